"""Unicode normalization of document text: NFC, one newline convention, no control characters.

Pure functions, no Beam. `normalize_text` runs on every document before the filters, so the
dedup key (sha256 of the cleaned text) does not depend on how the source encoded the text.
"""

from __future__ import annotations

import re
import unicodedata

# \r\n, lone \r, and the Unicode line breaks NEL, LINE SEPARATOR, PARAGRAPH SEPARATOR become \n.
_NEWLINES = re.compile(r"\r\n?|[\x85\u2028\u2029]")

# Characters removed outright: C0/C1 controls except \t and \n, DEL, the byte-order mark /
# zero-width no-break space, and lone surrogates (JSON `\ud800` escapes decode to them and they
# cannot be written as UTF-8).
_REMOVED = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x84\x86-\x9f\ufeff\ud800-\udfff]")


def normalize_text(text: str) -> str:
    """NFC-normalize, turn every line break into \\n and strip control characters except \\n, \\t."""
    text = _NEWLINES.sub("\n", text)
    text = _REMOVED.sub("", text)
    return unicodedata.normalize("NFC", text)
