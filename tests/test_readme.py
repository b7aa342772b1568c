"""The README's API tour is executable documentation: run its Python blocks."""
import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.skipif(not README.exists(), reason="README.md not next to tests/")
def test_readme_python_blocks_run():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks, "README has no python blocks"
    for code in blocks:
        exec(compile(code, str(README), "exec"), {})
