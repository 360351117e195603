"""schemas.errors.run_main: the one-line error and exit status every entry point shares."""

import pytest

from schemas.errors import USAGE_EXIT, one_line, run_main


def fails_with(error):
    def main(argv):
        raise error
    return main


class NoCredentialsError(Exception):
    """Named like botocore's: recognised by name, without importing botocore."""


@pytest.mark.parametrize("error", [ValueError("bad --seq-len 0;\n  give a positive number"),
                                   FileNotFoundError("gs://b/x does not exist"),
                                   PermissionError("s3://b/out: access denied")])
def test_configuration_error_is_one_line_and_exit_2(capsys, error):
    assert run_main("shardlm build", fails_with(error), []) == USAGE_EXIT == 2
    assert capsys.readouterr().err == f"shardlm build: error: {one_line(error)}\n"


def test_credentials_error_gets_a_hint(capsys):
    assert run_main("shardlm clean", fails_with(NoCredentialsError("Unable to locate credentials")), []) == 2
    err = capsys.readouterr().err
    assert err.startswith("shardlm clean: error: Unable to locate credentials; set the storage credentials")
    assert err.count("\n") == 1


def test_argparse_exits_keep_their_status(capsys):
    def main(argv):
        raise SystemExit(argv[0])

    assert run_main("x", main, [0]) == 0
    assert run_main("x", main, [None]) == 0
    assert run_main("x", main, [3]) == 3
    assert run_main("x", main, ["a message"]) == 1
    assert capsys.readouterr().err == "a message\n"


def test_success_passes_argv_and_returns_0():
    seen = []
    assert run_main("x", seen.append, ["--a", "1"]) == 0
    assert seen == [["--a", "1"]]


def test_bugs_propagate():
    with pytest.raises(KeyError):
        run_main("x", fails_with(KeyError("internal")), [])


def test_a_missing_optional_module_names_the_extra(capsys):
    missing = ModuleNotFoundError("No module named 'torch'", name="torch")
    assert run_main("shardlm train", fails_with(missing), [], extra="train") == 2
    assert capsys.readouterr().err == ("shardlm train: error: No module named 'torch': this command needs an "
                                       "optional dependency; pip install 'shardlm[train]'\n")


def test_a_missing_project_module_is_a_bug():
    with pytest.raises(ModuleNotFoundError):
        run_main("x", fails_with(ModuleNotFoundError("No module named 'pipelines.nope'", name="pipelines.nope")), [])
