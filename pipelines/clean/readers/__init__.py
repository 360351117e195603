"""Input formats -> records: WARC (and ARC), WET, JSONL, plain text and Parquet, from any fsspec URL.

Every input record becomes exactly one item: a `RawRecord` to clean, a `Drop` (a record the
job does not want, e.g. a WARC `request`), or a `Reject` (a record that cannot be parsed, or
the damaged tail of a file). A file that yields nothing becomes one `empty_file` reject, so
every input file is accounted for in the manifest's stats. Pure Python, no Beam.

One module a part: `records` (the items, the reader options, document ids, what every format
shares), `inputs` (listing the --input files, picking a file's reader), `warc` (WARC, ARC, WET),
`jsonl`, `text`, `parquet`. The names other code uses are importable from here.
"""

from pipelines.clean.readers.records import (
    MAX_TEXT_BYTES,
    Drop,
    InputFile,
    Item,
    RawRecord,
    ReaderConfig,
    Reject,
    RowGroups,
    cut_utf8,
    doc_id,
    dropped_document,
    parse_timestamp,
    position_key,
)
from pipelines.clean.readers.inputs import (FORMATS, detect_format, expand_inputs, input_pieces, read_input,
                                            read_source, resolve_format)
from pipelines.clean.readers.jsonl import iter_jsonl
from pipelines.clean.readers.parquet import MissingColumnError, check_columns, iter_parquet
from pipelines.clean.readers.text import iter_text
from pipelines.clean.readers.warc import iter_warc, parse_warc_date

__all__ = ["FORMATS", "MAX_TEXT_BYTES", "Drop", "InputFile", "Item", "MissingColumnError", "RawRecord", "ReaderConfig",
           "Reject", "RowGroups", "check_columns", "cut_utf8", "detect_format", "doc_id", "dropped_document",
           "expand_inputs", "input_pieces", "iter_jsonl", "iter_parquet", "iter_text", "iter_warc", "parse_timestamp",
           "parse_warc_date", "position_key", "read_input", "read_source", "resolve_format"]
