"""Arrow schemas of every dataset shardlm writes, and their manifests.

`SCHEMA_VERSION` is bumped whenever a schema below changes incompatibly; readers
refuse a manifest whose version they do not know.
"""

from schemas.documents import DOCUMENTS_SCHEMA
from schemas.examples import (
    OBJECTIVES,
    Objective,
    examples_schema,
    get_objective,
    objective_columns,
    objective_fields,
    token_dtype,
    with_languages,
)
from schemas.manifest import (
    DOCUMENTS_MANIFEST_NAME,
    MANIFEST_NAME,
    ManifestError,
    NotCommittedError,
    decode_schema,
    encode_schema,
    find_manifest,
    manifest_url,
    read_manifest,
    uncommit,
    validate_manifest,
    write_manifest,
)
from schemas.version import SCHEMA_VERSION

__all__ = [
    "DOCUMENTS_MANIFEST_NAME",
    "DOCUMENTS_SCHEMA",
    "MANIFEST_NAME",
    "OBJECTIVES",
    "Objective",
    "SCHEMA_VERSION",
    "ManifestError",
    "NotCommittedError",
    "decode_schema",
    "encode_schema",
    "find_manifest",
    "examples_schema",
    "get_objective",
    "manifest_url",
    "objective_columns",
    "objective_fields",
    "read_manifest",
    "token_dtype",
    "uncommit",
    "validate_manifest",
    "with_languages",
    "write_manifest",
]
