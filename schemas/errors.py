"""How every entry point reports a configuration error: one line on stderr and exit status 2.

`run_main(prog, main, argv)` is what `shardlm <subcommand>`, `python -m pipelines.<job>` and
`python -m trainer` all call around their `main(argv)`. It lives in `schemas`, the base package
that every other package already imports, so no package has to import `shardlm` (the console
script) to behave like it. It imports nothing else of the project.
"""

from __future__ import annotations

import logging
import sys
from typing import Callable

# The exit status of a configuration error (argparse uses it for a bad flag too).
USAGE_EXIT = 2
# The exit status when object storage stopped answering and retries did not bring it back:
# nothing is wrong with the command; rerun it when the store is back.
STORAGE_EXIT = 3


class StoreUnavailableError(RuntimeError):
    """Object storage did not answer after retries with backoff (shards.storage.retrying)."""

# Modules that only an extra of the package installs (pyproject.toml): a command that needs one
# and finds it missing says which extra to install instead of printing a traceback.
OPTIONAL_MODULES = ("torch", "transformers", "safetensors", "sentencepiece", "webdataset", "matplotlib")

CREDENTIALS_HINT = ("set the storage credentials (e.g. AWS_ACCESS_KEY_ID, GOOGLE_APPLICATION_CREDENTIALS) "
                    "or pass --storage-options")


def one_line(message: object) -> str:
    """An error message folded onto one line."""
    return " ".join(str(message).split())


def is_credentials_error(err: BaseException) -> bool:
    """botocore's and google-auth's missing/invalid-credentials errors (which are not OSErrors)."""
    names = {cls.__name__ for cls in type(err).__mro__}
    return bool(names & {"NoCredentialsError", "PartialCredentialsError", "DefaultCredentialsError",
                         "RefreshError"})


def configure_logging() -> None:
    """INFO to stderr for the project's loggers; Beam's own chatter only from WARNING up."""
    # force: importing Beam may already have configured the root logger at WARNING
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    logging.getLogger("apache_beam").setLevel(logging.WARNING)


def exit_code(code: object) -> int:
    """The int a SystemExit stands for (None is success; a message is printed and is status 1)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _store_unavailable(err: BaseException) -> str | None:
    """The message of a StoreUnavailableError that a runner re-raised as text (Beam's
    multi-processing DirectRunner raises a RuntimeError holding the worker's traceback)."""
    marker = f"{StoreUnavailableError.__name__}: "
    text = str(err)
    if marker not in text:
        return None
    return one_line(text.rsplit(marker, 1)[1].split("\n", 1)[0].split(" [while running", 1)[0])


def run_main(prog: str, main: Callable[[list[str]], object], argv: list[str], *, extra: str | None = None) -> int:
    """Run `main(argv)` and return the process exit status.

    ValueError and OSError (FileNotFoundError, PermissionError, ...) are configuration errors:
    `PROG: error: <message on one line>` and USAGE_EXIT. So are storage credential errors, with
    a hint, and a missing optional module (`extra` names the package extra that installs it).
    Storage that stopped answering (StoreUnavailableError, after retries) is one line and
    STORAGE_EXIT. argparse's own exits (`--help`, a bad flag) keep their status. Anything else is
    a bug and propagates with its traceback.
    """
    try:
        main(argv)
    except StoreUnavailableError as err:  # torch re-raises a DataLoader worker's with its traceback as text
        print(f"{prog}: error: {_store_unavailable(err) or one_line(err)}", file=sys.stderr)
        return STORAGE_EXIT
    except ModuleNotFoundError as err:
        if (err.name or "").split(".")[0] not in OPTIONAL_MODULES:
            raise
        install = f"pip install 'shardlm[{extra}]'" if extra else f"install {err.name}"
        print(f"{prog}: error: {one_line(err)}: this command needs an optional dependency; {install}",
              file=sys.stderr)
        return USAGE_EXIT
    except (ValueError, OSError) as err:
        print(f"{prog}: error: {one_line(err)}", file=sys.stderr)
        return USAGE_EXIT
    except SystemExit as exit_:
        return exit_code(exit_.code)
    except Exception as err:
        unavailable = _store_unavailable(err)
        if unavailable is not None:  # from a Beam worker process, which sends back only the text
            print(f"{prog}: error: {unavailable}", file=sys.stderr)
            return STORAGE_EXIT
        if not is_credentials_error(err):
            raise
        print(f"{prog}: error: {one_line(err)}; {CREDENTIALS_HINT}", file=sys.stderr)
        return USAGE_EXIT
    return 0
