"""The one version number shared by every schema and manifest shardlm writes."""

SCHEMA_VERSION = 1


def tool_version() -> str:
    """The installed shardlm's version, for a manifest's `created_by`; "unknown" when not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("shardlm")
    except PackageNotFoundError:
        return "unknown"
