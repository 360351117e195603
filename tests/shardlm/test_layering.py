"""The package layering of DESIGN.md, read from the import statements of every module.

schemas is the base and imports nothing else of the project; nothing imports shardlm (the
console script); shards does not import pipelines or trainer; pipelines does not import trainer.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("schemas", "shards", "pipelines", "trainer", "shardlm")
# what each package may import of the project, besides itself
ALLOWED = {
    "schemas": set(),
    "shards": {"schemas"},
    "pipelines": {"schemas", "shards"},
    "trainer": {"schemas", "shards"},
    "shardlm": {"schemas", "shards", "pipelines", "trainer"},
}


def project_imports(path: Path) -> set[str]:
    """The top-level project packages a module imports (anywhere in it, lazily or not)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found |= {name.split(".")[0] for name in names} & set(PACKAGES)
    return found


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def test_every_package_has_modules():
    assert all(modules(p) for p in PACKAGES)  # a renamed package would make the checks below vacuous


@pytest.mark.parametrize("package", PACKAGES)
def test_package_imports_only_what_its_layer_allows(package):
    wrong = {str(path.relative_to(ROOT)): sorted(project_imports(path) - ALLOWED[package] - {package})
             for path in modules(package)}
    assert {k: v for k, v in wrong.items() if v} == {}


def test_project_imports_sees_lazy_imports(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("import os\ndef f():\n    from shardlm.cli import main\n    import trainer.run\n")
    assert project_imports(module) == {"shardlm", "trainer"}
