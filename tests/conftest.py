"""Shared fixtures: a real S3 server (moto_server) on loopback, paths to shared data, and logging
left as each test found it."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data, skipping the test with a reason when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (real test material lives in ../shared/data beside the checkout)")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _moto_command() -> list[str]:
    exe = Path(sys.executable).with_name("moto_server")
    return [str(exe)] if exe.exists() else [shutil.which("moto_server") or "moto_server"]


@pytest.fixture(scope="session")
def s3_endpoint():
    """Start moto_server on 127.0.0.1 for the session and point the AWS environment at it."""
    port = _free_port()
    log = tempfile.TemporaryFile()  # moto_server's own output, shown if it does not come up
    proc = subprocess.Popen([*_moto_command(), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    # importing moto takes seconds on an idle machine and far longer on a loaded one
    deadline = time.monotonic() + 120
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                log.seek(0)
                tail = log.read()[-2000:].decode(errors="replace")
                pytest.fail(f"moto_server did not start on {endpoint} (exit status {proc.returncode}): {tail}")
            time.sleep(0.1)
    saved = {k: os.environ.get(k) for k in
             ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    os.environ.update(AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="testing",
                      AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    try:
        yield endpoint
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def s3_bucket(s3_endpoint):
    """A fresh, empty bucket on the loopback S3 server; yields its s3:// URL."""
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()
    fs = s3fs.S3FileSystem()
    name = f"test-{uuid.uuid4().hex[:12]}"
    fs.mkdir(name)
    yield f"s3://{name}"
    s3fs.S3FileSystem.clear_instance_cache()


@pytest.fixture(autouse=True)
def _restore_root_logging():
    """A test that runs an entry point (run_main, trainer.cli.main) leaves logging.basicConfig's
    handler on the root logger, writing to the stderr pytest captured for that test; that stream
    is closed afterwards, and a later test's log lines would print "--- Logging error ---" into
    the stderr it checks. Such handlers (plain StreamHandlers, not pytest's own) are removed."""
    root = logging.getLogger()
    before, level = set(root.handlers), root.level
    yield
    for handler in root.handlers[:]:
        if handler not in before and type(handler) is logging.StreamHandler:
            root.removeHandler(handler)
    root.setLevel(level)
