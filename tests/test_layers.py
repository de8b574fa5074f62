"""The layers are one way: the library (disvae/) never imports the command lines' parsing
and drawing (utils/), and first-party imports sit at the top of each module, so the
import graph is what the tops of the files say."""
import ast
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def modules(package):
    """(dotted name, path) of every module of a first-party package."""
    found = []
    for folder, _, files in os.walk(os.path.join(ROOT, package)):
        for file in sorted(files):
            if file.endswith(".py"):
                path = os.path.join(folder, file)
                name = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".").removesuffix(".__init__")
                found.append((name, path))
    return found


def imported(path):
    """[(module imported, line, at module level?)] of a file."""
    tree = ast.parse(open(path).read(), path)
    top = set(map(id, tree.body))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            found.append((node.module, node.lineno, id(node) in top))
    return found


def first_party(name):
    return name.split(".")[0] in ("disvae", "utils")


def test_the_scan_sees_every_kind_of_import(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("import utils.cli\nfrom disvae import io\n\ndef f():\n    from utils.plots import x\n")
    assert imported(str(path)) == [("utils.cli", 1, True), ("disvae", 2, True), ("utils.plots", 5, False)]


@pytest.mark.parametrize("path", [pytest.param(path, id=name) for name, path in modules("disvae")])
def test_the_library_never_imports_utils(path):
    assert [(m, line) for m, line, _ in imported(path) if m.split(".")[0] == "utils"] == []


def test_importing_all_of_the_library_loads_nothing_of_utils():
    names = [name for name, _ in modules("disvae")]
    code = "import importlib, sys\n" + "".join(f"importlib.import_module({n!r})\n" for n in names) + \
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'utils'))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("package", ["disvae", "utils"])
def test_first_party_imports_are_at_the_top_of_each_module(package):
    inside = [(os.path.relpath(path, ROOT), m, line) for _, path in modules(package)
              for m, line, at_top in imported(path) if first_party(m) and not at_top]
    assert inside == []


def test_utils_keeps_only_what_the_command_lines_parse_and_draw():
    assert sorted(name for name, _ in modules("utils")) == \
        ["utils", "utils.allocator", "utils.cli", "utils.plots", "utils.visualize"]
