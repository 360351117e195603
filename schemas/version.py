"""The one version number shared by every schema and manifest shardlm writes."""

SCHEMA_VERSION = 1
