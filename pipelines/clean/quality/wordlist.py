"""A user word list: drop a document that contains any listed word or phrase.

C4 drops pages containing a word of the "List of Dirty, Naughty, Obscene or Otherwise Bad
Words" (Raffel et al. 2020, section 2.2; TFDS `c4_utils.py` badwords_regex), matched in the
lowercased text on its own, not inside a longer word. Here an entry matches where it is not
preceded or followed by a word character (`(?<!\\w)entry(?!\\w)`), and the spaces inside a
phrase match any run of whitespace, so "bad phrase" also matches "Bad\\nphrase".

The list is a text file at any fsspec URL, one entry per line, UTF-8; entries are lowercased,
blank lines and lines starting with "#" are skipped. A config carries the entries as a sorted
tuple (it pickles to workers and is written to the manifest); the matcher is compiled once per
process. Matching is fast for long lists: the text's word tokens are collected once, and only
entries whose tokens all occur in the text are checked with their regex.
"""

from __future__ import annotations

import re
from functools import lru_cache

import fsspec

_TOKEN = re.compile(r"\w+")


def load_wordlist(url: str, storage_options: dict | None = None) -> tuple[str, ...]:
    """The sorted, lowercased, de-duplicated entries of the word-list file at `url`."""
    try:
        with fsspec.open(url, "rt", encoding="utf-8", **(storage_options or {})) as f:
            raw = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"word list {url} not found; pass --wordlist a text file with one word "
                                "or phrase per line") from None
    except UnicodeDecodeError as err:
        raise ValueError(f"word list {url} is not UTF-8 text ({err.reason}); save it as UTF-8") from None
    entries = {" ".join(line.lower().split()) for line in raw.splitlines()}
    entries = {e for e in entries if e and not e.startswith("#")}
    if not entries:
        raise ValueError(f"word list {url} has no entries; put one word or phrase per line")
    return tuple(sorted(entries))


def find_listed(text: str, entries: tuple[str, ...]) -> str | None:
    """The smallest entry found in `text` on its own (deterministic), or None."""
    if not entries:
        return None
    return _matcher(entries).find(text)


class WordListMatcher:
    def __init__(self, entries: tuple[str, ...]) -> None:
        self.singles: frozenset[str] = frozenset(e for e in entries if _TOKEN.fullmatch(e))
        # Other entries (phrases, entries with symbols): their tokens and their own regex.
        self.others = [(frozenset(_TOKEN.findall(e)), e, _entry_regex(e))
                       for e in entries if e not in self.singles]

    def find(self, text: str) -> str | None:
        lower = text.lower()
        tokens = set(_TOKEN.findall(lower))
        found = set(self.singles & tokens)
        found.update(entry for needed, entry, regex in self.others if needed <= tokens and regex.search(lower))
        return min(found) if found else None


def _entry_regex(entry: str) -> re.Pattern:
    body = r"\s+".join(re.escape(part) for part in entry.split(" "))
    return re.compile(rf"(?<!\w){body}(?!\w)")


@lru_cache(maxsize=8)
def _matcher(entries: tuple[str, ...]) -> WordListMatcher:
    return WordListMatcher(entries)
