import pytest

from pipelines.clean.filters import BASIC, clean_record, configure
from pipelines.clean.quality.wordlist import find_listed, load_wordlist
from pipelines.clean.readers import Drop, RawRecord

ENTRIES = ("b@d", "bad", "nice words here", "ünïcode")


@pytest.mark.parametrize("text,found", [
    ("This is Bad.", "bad"),
    ("(bad)", "bad"),
    ("bad", "bad"),
    ("badge and abad and bad_ly", None),  # not on its own
    ("so Nice  words\nhere!", "nice words here"),  # any whitespace inside a phrase
    ("nice words herein", None),
    ("mail b@d now", "b@d"),
    ("ab@d", None),
    ("ÜNÏCODE!", "ünïcode"),
    ("", None),
])
def test_entries_match_on_their_own(text, found):
    assert find_listed(text, ENTRIES) == found


def test_the_smallest_matching_entry_is_reported():
    assert find_listed("nice words here and bad and b@d", ENTRIES) == "b@d"
    assert find_listed("anything", ()) is None


def test_load_wordlist(tmp_path):
    path = tmp_path / "list.txt"
    path.write_text("Zebra\n\n  two   Words \n# comment\nzebra\n", encoding="utf-8")
    assert load_wordlist(str(path)) == ("two words", "zebra")
    assert load_wordlist(f"file://{path}") == ("two words", "zebra")
    with pytest.raises(FileNotFoundError, match="word list .*missing.txt not found; pass --wordlist"):
        load_wordlist(str(tmp_path / "missing.txt"))
    (tmp_path / "empty.txt").write_text("\n# nothing\n")
    with pytest.raises(ValueError, match="has no entries"):
        load_wordlist(str(tmp_path / "empty.txt"))
    (tmp_path / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    with pytest.raises(ValueError, match="is not UTF-8 text"):
        load_wordlist(str(tmp_path / "latin1.txt"))


def test_wordlist_drops_through_clean_record(tmp_path):
    (tmp_path / "list.txt").write_text("zebra\n")
    config = configure("basic", wordlist_url=str(tmp_path / "list.txt"))
    record = RawRecord(source="s", position=4, text="A zebra walked across the road today.")
    assert clean_record(record, config) == Drop(reason="wordlist", source="s", position=4)
    assert isinstance(clean_record(record, BASIC), dict)
    # the word list sees the text after C4's line removal: a removed line cannot drop the page
    c4 = configure("c4", wordlist_url=str(tmp_path / "list.txt"))
    prose = "\n".join(f"Sentence {i} is long enough to be kept here." for i in range(3))
    assert isinstance(clean_record(RawRecord(source="s", position=5, text="zebra menu\n" + prose), c4), dict)
    assert clean_record(RawRecord(source="s", position=6, text="A zebra is here, see.\n" + prose), c4) == Drop(
        reason="wordlist", source="s", position=6)
