"""schemas.flags: a flag's default is read from its configuration dataclass, once."""

import argparse
from dataclasses import dataclass, field

import pytest

from schemas.flags import config_flag, field_default


@dataclass(frozen=True, kw_only=True)
class Config:
    input: str
    seed: int = 7
    valid_fraction: float = 0.02
    target_shard_bytes: int = 128_000_000
    langs: tuple = field(default_factory=lambda: ("en",))
    cap: int | None = None


def test_field_default_reads_defaults_and_factories():
    assert field_default(Config, "seed") == 7
    assert field_default(Config, "langs") == ("en",)
    assert field_default(Config, "cap") is None
    with pytest.raises(KeyError, match="Config.input is required"):
        field_default(Config, "input")
    with pytest.raises(KeyError, match="no field 'sed'"):
        field_default(Config, "sed")


def test_config_flag_takes_the_default_and_shows_it():
    parser = argparse.ArgumentParser(prog="p")
    config_flag(parser, "--seed", Config, type=int, help="random seed")
    config_flag(parser, "--valid-fraction", Config, type=float, help="share held out (100%%)")
    config_flag(parser, "--target-shard-bytes", Config, type=int, help="shard size")
    config_flag(parser, "--max", Config, field="cap", type=int, help="a cap")
    config_flag(parser, "--fraction", Config, field="valid_fraction", type=float, help="default %(default)s, or 1")
    assert vars(parser.parse_args([])) == {"seed": 7, "valid_fraction": 0.02, "target_shard_bytes": 128_000_000,
                                           "max": None, "fraction": 0.02}
    assert parser.parse_args(["--seed", "3"]).seed == 3
    text = " ".join(parser.format_help().split())
    for shown in ("random seed (default 7)", "share held out (100%) (default 0.02)",
                  "shard size (default 128_000_000)", "a cap (default none)", "default 0.02, or 1"):
        assert shown in text


def test_a_flag_without_a_field_is_refused():
    with pytest.raises(KeyError):
        config_flag(argparse.ArgumentParser(), "--sed", Config, type=int, help="typo")
