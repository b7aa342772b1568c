"""Load an example script of examples/ as a module, with chainrule or with PyTorch bound to
its imports (the same source text; only the ``import chainrule...`` lines change)."""
import pathlib
import types

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"
KEEP = ("from chainrule.data ", "from chainrule.datasets ")  # data sources, not the framework


def torch_source(src):
    """The script's source with its chainrule imports pointing at PyTorch."""
    out = []
    for line in src.splitlines():
        if line.startswith(("import chainrule", "from chainrule")) and not line.startswith(KEEP):
            line = line.replace("chainrule", "torch")
        out.append(line)
    return "\n".join(out) + "\n"


def load(name, backend="chainrule"):
    """examples/<name>.py executed as module ``<name>_<backend>`` (its main() not run)."""
    path = EXAMPLES / f"{name}.py"
    src = path.read_text()
    if backend == "torch":
        pytest.importorskip("torch")
        src = torch_source(src)
    mod = types.ModuleType(f"{name}_{backend}")
    mod.__file__ = str(path)
    exec(compile(src, str(path), "exec"), mod.__dict__)
    return mod
