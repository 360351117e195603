"""Storage retries: transient failures are retried with backoff (reads reopen at the same byte);
a store that stays away is StoreUnavailableError, exit status 3, also mid-training."""

from __future__ import annotations

import subprocess
import time

import fsspec
import pytest
from fsspec.implementations.memory import MemoryFileSystem

from schemas.errors import STORAGE_EXIT, USAGE_EXIT, StoreUnavailableError, run_main
from shards.storage import RetryPolicy, is_transient, open_url, retrying
from shards.stream import ShardStream, StreamConfig
from tests.conftest import _free_port, _moto_command

FAST = RetryPolicy(num_attempts=3, backoff_s=0.01)


def test_transient_errors_are_retried_then_reported_as_store_unavailable():
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionResetError("connection reset by peer")
        return "ok"

    assert retrying(flaky, "reading x", FAST) == "ok" and len(calls) == 3
    calls.clear()
    with pytest.raises(StoreUnavailableError, match=r"reading s3://b/x: object storage did not answer after 3 attempts "
                                                    r"\(ConnectionRefusedError: gone\)"):
        retrying(lambda: calls.append(1) or (_ for _ in ()).throw(ConnectionRefusedError("gone")), "reading s3://b/x", FAST)
    assert len(calls) == 3


def test_request_errors_are_not_retried():
    calls = []

    def missing():
        calls.append(1)
        raise FileNotFoundError("s3://b/nope")

    with pytest.raises(FileNotFoundError):
        retrying(missing, "reading", FAST)
    assert calls == [1]
    assert not is_transient(ValueError("bad")) and not is_transient(PermissionError(13, "denied"))
    assert not is_transient(OSError("connection reset"))  # no errno, no known class: not ours to guess
    endpoint_error = type("EndpointConnectionError", (Exception,), {})
    assert is_transient(endpoint_error()) and is_transient(TimeoutError()) and is_transient(OSError(104, "reset"))


class FlakyFileSystem(MemoryFileSystem):
    """memory://, except that a read past `fail_after` bytes fails `failures_left` times in all."""

    protocol = "flaky"
    fail_after = 5000
    opened = 0
    failures_left = 1

    @classmethod
    def _strip_protocol(cls, path):
        return MemoryFileSystem._strip_protocol(path.removeprefix("flaky://"))

    def _open(self, path, mode="rb", **kwargs):
        f = super()._open(path, mode, **kwargs)
        if mode != "rb":
            return f
        type(self).opened += 1
        original = f.read
        cls = type(self)

        def read(size=-1):
            if cls.failures_left and f.tell() + (size if size >= 0 else 1 << 30) > self.fail_after:
                cls.failures_left -= 1
                raise ConnectionResetError(104, "connection reset by peer")
            return original(size)

        f.read = read
        return f


def test_a_read_that_breaks_reopens_and_continues_at_the_same_byte(monkeypatch):
    monkeypatch.setenv("SHARDLM_STORAGE_BACKOFF_S", "0.01")
    fsspec.register_implementation("flaky", FlakyFileSystem, clobber=True)
    data = bytes(range(256)) * 100
    FlakyFileSystem().pipe("/retry/blob", data)
    FlakyFileSystem.opened, FlakyFileSystem.failures_left = 0, 1
    with open_url("flaky://retry/blob") as f:
        assert f.read(4096) == data[:4096]
        assert f.read() == data[4096:]
        f.seek(100)
        assert f.read(10) == data[100:110]
    assert FlakyFileSystem.opened == 2 and FlakyFileSystem.failures_left == 0  # the broken read reopened it


def test_exit_status_three_for_a_store_that_stays_away_and_two_for_configuration():
    def gone(argv):
        raise StoreUnavailableError("reading s3://b/x: object storage did not answer after 5 attempts")

    def bad(argv):
        raise ValueError("--seq-len must be positive")

    def from_a_beam_worker(argv):  # the multi-processing DirectRunner sends the worker's traceback as text
        raise RuntimeError("Traceback (most recent call last):\n  File ...\nshards.StoreUnavailableError: reading "
                           "s3://b/x: object storage did not answer [while running 'Read']\n")

    assert run_main("shardlm clean", gone, []) == STORAGE_EXIT == 3
    assert run_main("shardlm clean", from_a_beam_worker, []) == STORAGE_EXIT
    assert run_main("shardlm build", bad, []) == USAGE_EXIT == 2


@pytest.fixture
def private_s3(monkeypatch):
    """A moto server of this test alone (it gets stopped mid-test), with fast retries."""
    port = _free_port()
    proc = subprocess.Popen([*_moto_command(), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import s3fs
    import socket

    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("moto_server did not start")
            time.sleep(0.1)
    for key, value in {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                       "AWS_MAX_ATTEMPTS": "1", "SHARDLM_STORAGE_ATTEMPTS": "2",
                       "SHARDLM_STORAGE_BACKOFF_S": "0.05"}.items():
        monkeypatch.setenv(key, value)
    s3fs.S3FileSystem.clear_instance_cache()
    fsspec.filesystem("s3").mkdir("retry-test")
    yield proc
    proc.kill()
    proc.wait()
    s3fs.S3FileSystem.clear_instance_cache()


def test_training_stream_stops_with_store_unavailable_when_the_store_goes_away(private_s3):
    from tests.shards.shardsets import PER_SHARD, write_set

    urls = write_set("s3://retry-test/set")
    stream = iter(ShardStream(urls, StreamConfig(shuffle_shards=False, shuffle_buffer=0, prefetch_shards=1)))
    first = [next(stream) for _ in range(PER_SHARD)]
    assert first[0]["doc_id"] == "d00000"
    private_s3.kill()
    private_s3.wait()
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError, match=r"prefetching shard s3://retry-test/set/train-0000\d\d\.tar "
                                                    r"failed: .*did not answer after 2 attempts"):
        for _ in stream:
            pass
    assert time.monotonic() - started < 60
