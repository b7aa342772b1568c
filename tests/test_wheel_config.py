"""Package hygiene (issue 13, item 2): show_config(), py.typed, LICENSE, CHANGELOG."""
import os
import pathlib

import chainrule as cr
from chainrule import _runtime

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_show_config_prints_and_returns(capsys):
    cfg = cr.show_config()
    printed = capsys.readouterr().out
    assert cfg["version"] == cr.__version__ and f"version: {cr.__version__}" in printed
    assert cfg["isa"] == {"active": _runtime.isa(), "detected": _runtime.isa_detected()}
    assert cfg["threads"]["num_threads"] == cr.get_num_threads()
    assert cfg["threads"]["available_cpus"] >= 1
    assert cfg["threads"]["forked_child"] is False
    runtime = cfg["openmp"]["runtime"]
    assert runtime and os.path.exists(runtime) and "omp" in os.path.basename(runtime), runtime
    assert cfg["openmp"]["spec"]
    assert cfg["build"]["compiler"] and cfg["build"]["build_type"] and cfg["build"]["c_flags"]
    for section in ("isa:", "threads:", "openmp:", "build:"):
        assert section in printed
    assert cr.show_config(print_out=False) == cfg and capsys.readouterr().out == ""


def test_show_config_follows_thread_changes():
    cr.set_num_threads(1)
    assert cr.show_config(print_out=False)["threads"]["num_threads"] == 1
    cr.set_num_threads(2)
    assert cr.show_config(print_out=False)["threads"]["num_threads"] == 2


def test_py_typed_shipped_next_to_the_package():
    assert (pathlib.Path(cr.__file__).parent / "py.typed").is_file()


def test_license_and_changelog():
    lic = (ROOT / "LICENSE").read_text()
    assert "MIT License" in lic and "2026 the chainrule authors" in lic
    log = (ROOT / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in log and "## [0.1.0]" in log
