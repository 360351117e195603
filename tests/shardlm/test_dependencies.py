"""The core install runs the Beam jobs; torch and transformers come with the extras that need them.

Read from pyproject.toml and from each module's import statements, and checked in a fresh
interpreter: importing the Beam jobs must not import torch, transformers or webdataset, so a
Dataflow worker that installs only the core (--setup_file) has all it needs.
"""

import ast
import functools
import subprocess
import sys
from importlib.metadata import packages_distributions, requires
from pathlib import Path

import pytest
from packaging.requirements import Requirement

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
HEAVY = ("torch", "transformers", "webdataset")
# the libraries whose majors have broken us: bounded above wherever they are required
BOUNDED = ("transformers", "tokenizers", "apache-beam", "pyarrow", "numba")
# which install each part of the code runs under
EXTRAS_OF = {"pipelines/tokenizer": ("tokenizer",), "trainer": ("train",), "shards/stream.py": ("train",),
             "shards/batches.py": ("train",),
             # imported only where numba is installed (shards.columns.kernels falls back to numpy)
             "shards/column_kernels.py": ("train",), "pipelines/build/objectives/nsp_kernels.py": ("train",), "pipelines/build/objectives/generator_kernels.py": ("train",), "shardlm/report.py": ("report",), "shardlm": ("tokenizer", "train")}  # shardlm demo runs them all
PACKAGES = ("schemas", "shards", "pipelines", "trainer", "shardlm")


def name(requirement: Requirement | str) -> str:
    text = requirement.name if isinstance(requirement, Requirement) else requirement
    return text.lower().replace("_", "-").replace(".", "-")


def requirements(extra: str | None = None) -> list[Requirement]:
    lines = PROJECT["dependencies"] if extra is None else PROJECT["optional-dependencies"][extra]
    return [Requirement(line) for line in lines]


def test_the_core_install_has_no_torch_transformers_or_webdataset():
    core = {name(r) for r in requirements()}
    assert core >= {"apache-beam", "pyarrow", "tokenizers", "fsspec"}
    assert not core & {*HEAVY, "safetensors"}
    assert {name(r) for r in requirements("train")} >= {"torch", "transformers", "safetensors"}
    assert {name(r) for r in requirements("tokenizer")} == {"transformers", "sentencepiece"}
    assert "webdataset" in {name(r) for r in requirements("test")}


def test_libraries_whose_majors_broke_us_are_bounded_and_pinned():
    every = [r for extra in [None, *PROJECT["optional-dependencies"]] for r in requirements(extra)]
    for lib in BOUNDED:
        found = [r for r in every if name(r) == lib]
        assert found, lib
        for r in found:
            assert any(spec.operator in ("<", "<=", "~=", "==") for spec in r.specifier), f"{r} has no upper bound"
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            pin = Requirement(line)
            pins[name(pin)] = next(iter(pin.specifier)).version
    assert set(pins) == set(BOUNDED)
    for r in every:  # the tested versions are allowed by every range
        if name(r) in pins:
            assert r.specifier.contains(pins[name(r)]), f"constraints.txt's {name(r)}=={pins[name(r)]} breaks {r}"


@functools.cache
def owners() -> dict[str, list[str]]:
    return packages_distributions()


@functools.cache
def brought_by(dist: str) -> frozenset[str]:
    """What installing `dist` installs besides (one level of its Requires-Dist is enough here)."""
    return frozenset(name(Requirement(line)) for line in requires(dist) or [])


def imported_distributions(path: Path) -> set[str]:
    """The installed distributions a module imports (lazily or not), by top-level module name."""
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module.split(".")[0])
    return {name(dist) for module in modules - set(PACKAGES) for dist in owners().get(module, [])[:1]}


def test_every_third_party_import_is_declared_by_the_install_that_runs_it():
    undeclared = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            extras = next((e for prefix, e in EXTRAS_OF.items() if relative.startswith(prefix)), ())
            declared = {name(r) for extra in (None, *extras) for r in requirements(extra)}
            # a declared library brings its own dependencies (apache-beam[gcp]: google-*, protobuf),
            # but torch, transformers, webdataset and safetensors must be declared where they are used
            brought = set().union(*(brought_by(d) for d in declared)) - {*HEAVY, "safetensors"}
            missing = imported_distributions(path) - declared - brought
            if missing:
                undeclared[relative] = sorted(missing)
    assert undeclared == {}


def test_the_import_scan_sees_an_undeclared_heavy_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    import torch.nn\n    from transformers import AutoModel\n")
    assert imported_distributions(module) == {"torch", "transformers"}


@pytest.mark.parametrize("modules", [
    ("pipelines.clean.job", "pipelines.build.job", "pipelines.tokenizer.job", "shardlm.schema", "shardlm.cli"),
])
def test_importing_the_beam_jobs_imports_no_torch(modules):
    check = (f"import sys\nimport {', '.join(modules)}\n"
             f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\nassert not heavy, heavy\n")
    out = subprocess.run([sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]


def test_tokenizer_without_its_extra_fails_before_reading(monkeypatch, capsys, tmp_path):
    """A core install lacks transformers, which writes the folder at the end: say so first."""
    import importlib.util

    from shardlm.cli import main

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "transformers" else
                        find_spec(name, *a))
    argv = ["tokenizer", "--input", str(tmp_path / "missing"), "--kind", "bpe", "--vocab-size", "100",
            "--output", str(tmp_path / "tok")]
    assert main(argv) == 2
    assert capsys.readouterr().err.endswith("this command needs an optional dependency; "
                                            "pip install 'shardlm[tokenizer]'\n")  # not the missing input
