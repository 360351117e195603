"""The whole `shardlm clean`, every stage on, over the real WARC files in ../shared/data/warc and
over generated bad input: the job finishes and every record read is accounted for."""

import gzip
import os

import pytest

from pipelines.clean import job as clean
from tests.conftest import shared_data
from tests.pipelines.clean.test_readers import html_page, write_warc

pytestmark = pytest.mark.slow

ALL_STAGES = ["--preset", "c4,gopher,fineweb", "--mask-pii", "--direct_num_workers", "2",
              "--direct_running_mode", "multi_processing"]
REAL_WARCS = ("cc-main-2025-33-sample.warc.gz", "example-iana.org-chunked.warc", "example.warc.gz",
              "example-wget-1-14.warc.gz", "dupes.warc.gz", "example.arc.gz")


def losses(stats: dict) -> int:
    return sum(v for k, v in stats.items() if k.startswith(("dropped/", "rejected/")))


def test_real_warc_files_every_stage(tmp_path):
    inputs = [str(shared_data("warc", name)) for name in REAL_WARCS]
    manifest = clean.main([a for i in inputs for a in ("--input", i)] + ["--output", str(tmp_path / "docs"),
                                                                         *ALL_STAGES])
    stats = manifest["stats"]
    assert stats["read"] == stats["kept"] + losses(stats)
    assert stats["kept"] == manifest["rows"] >= 1  # the iana.org page passes every preset
    assert stats["dropped/warc_type_request"] >= 15 and stats["dropped/warc_type_revisit"] >= 10


def bad_inputs(folder):
    """Truncated gzip, binary junk, a 20 MB single-line page and a windows-1252 page."""
    folder.mkdir(parents=True)
    words = "the river runs past the old mill and the town keeps its market open. "
    prose = "".join(f"<p>{words * 4}</p>" for _ in range(3))
    whole = folder / "whole.warc.gz"
    write_warc(whole, [{"type": "response", "url": f"http://t.example/{i}", "content_type": "text/html",
                        "payload": html_page("t", prose + f"<p>page {i}</p>")} for i in range(3)])
    data = whole.read_bytes()
    (folder / "truncated.warc.gz").write_bytes(data[: len(data) - 100])  # inside the last record
    whole.unlink()
    (folder / "junk.warc.gz").write_bytes(gzip.compress(os.urandom(4096)))
    (folder / "junk.warc").write_bytes(os.urandom(4096))
    one_line = "<html><body><p>" + ("word " * 4_000_000) + "</p></body></html>"  # 20 MB, no newline
    latin = html_page("Café", "<p>" + "Le café où l'on mange des crêpes est très agréable. " * 6 + "</p>")
    write_warc(folder / "odd.warc.gz", [
        {"type": "response", "url": "http://big.example/", "content_type": "text/html",
         "payload": one_line.encode()},
        {"type": "response", "url": "http://latin.example/", "content_type": "text/html; charset=windows-1252",
         "payload": latin.decode("utf-8").encode("cp1252")},
    ])
    return folder


def test_bad_input_is_counted_and_the_job_finishes(tmp_path):
    folder = bad_inputs(tmp_path / "in")
    manifest = clean.main(["--input", str(folder / "*"), "--output", str(tmp_path / "docs")])
    stats = manifest["stats"]
    assert stats["read"] == stats["kept"] + losses(stats)
    assert stats.get("rejected/truncated_gzip", 0) + stats.get("rejected/truncated_record", 0) >= 1
    assert stats.get("rejected/unreadable", 0) >= 2  # both junk files
    from pipelines.documents_io import read_documents

    texts = [t for b in read_documents(str(tmp_path / "docs")) for t in b.column("text").to_pylist()]
    assert any("café" in t.lower() for t in texts)  # decoded from windows-1252, not mojibake
