"""The suite itself: every folder of tests is collected (pytest's default norecursedirs holds
"build", which once left tests/pipelines/build out of every run)."""

import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_no_folder_of_tests_is_left_out_of_collection():
    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    skipped = options["norecursedirs"]
    folders = {p.parent for p in (ROOT / "tests").rglob("test_*.py")}
    assert ROOT / "tests" / "pipelines" / "build" in folders
    for folder in folders:
        for part in folder.relative_to(ROOT).parts:
            assert not any(fnmatch.fnmatch(part, pattern) for pattern in skipped), (folder, part)
