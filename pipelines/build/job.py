"""`shardlm build`: a documents dataset -> a WebDataset shard set of training examples (Beam).

    python -m pipelines.build --input DOCS_URL --tokenizer URL --objective mlm --seq-len 128 \
        --output URL [--seed 0] [Beam options]

Flow: read documents -> split sentences and tokenize in batches (which travel as DocBatch
elements, not one element per document) -> assign each document a
split (valid when a hash of (seed, doc id) < valid_fraction) and a shard (hash of doc id mod
the split's shard count, planned from its token count) -> group by shard -> build examples
with the objective's builder (pipelines/build/objectives/; documents sorted by id, an RNG per
(seed, doc id), side inputs computed over the whole corpus: the language table, nsp's negative
pool) -> write each shard -> write the manifest last. Every planned shard is written, empty or
not, so brace ranges stay valid.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import math
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Iterable, Iterator

import apache_beam as beam
import numpy as np
from apache_beam.pvalue import AsDict, AsList, AsSingleton

from pipelines import progress
from pipelines.build.inputs import UNITS, ReadAndTokenize
from pipelines.build.objectives import BUILDERS, BuildOptions, ShardContext, examples_table, get_builder
from pipelines.build.objectives.common import PACKINGS, ExampleColumns
from pipelines.build.objectives.negative_pool import (
    WINDOW_SEQ_LENS, NegativePool, PoolCandidates, candidates_of)
from pipelines.build.objectives.tlm import OVERFLOWS
from pipelines.build.parallel import PairFields, parallel_files, parse_langs
from pipelines.build.tokenize_docs import DocBatch, TokenizedDoc
from pipelines.docs_input import document_files
from pipelines.options import add_storage_flag, is_direct_runner, parse_job_args
from pipelines.tokenizer.load import tokenizer_for_build
from schemas import OBJECTIVES, examples_schema, read_manifest, token_dtype, uncommit, with_languages, write_manifest
from schemas.examples import MAX_LANGUAGES
from schemas.flags import config_flag
from schemas.version import tool_version
from shards.storage import check_url, retrying
from shards.writer import ShardInfo, rechunk, shard_set_manifest, write_shard

log = logging.getLogger(__name__)

SPLITS = ("train", "valid")
# Options only some builders read (Builder.options), with their flags: the job refuses a
# non-default value for an objective whose builder does not read it.
OBJECTIVE_FLAGS = {"short_seq_prob": "--short-seq-prob", "dupe_factor": "--dupe-factor", "packing": "--packing",
                   "per_language": "--per-language", "negative_pool": "--negative-pool", "langs": "--langs",
                   "src_field": "--src-field", "tgt_field": "--tgt-field", "pair_overflow": "--pair-overflow"}


@dataclass(frozen=True, kw_only=True)
class BuildConfig:
    input: str
    tokenizer: str
    objective: str
    seq_len: int
    output: str
    seed: int = 0
    valid_fraction: float = 0.02
    chunk_size: int = 1024  # DESIGN.md: chunks of up to 1024 examples
    num_shards: int | None = None
    target_shard_bytes: int = 128_000_000  # DESIGN.md: shards of about 64-256 MB
    short_seq_prob: float = 0.1  # google-research/bert create_pretraining_data.py
    dupe_factor: int = 1
    packing: str = "full"  # RoBERTa FULL-SENTENCES; "doc": DOC-SENTENCES
    per_language: bool = False
    negative_pool: int = 10_000  # nsp: documents per split whose windows random B segments come from
    langs: tuple[str, str] | None = None  # tlm: the languages of every file (else from its name)
    src_field: str = "src"  # tlm, JSONL: where each side is
    tgt_field: str = "tgt"
    pair_overflow: str = "drop"  # tlm: drop (XLM) or truncate pairs longer than seq_len
    storage_options: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        get_builder(self.objective)  # unknown or not built: one line naming the choices
        checks = [
            (8 <= self.seq_len <= 1 << 20, f"--seq-len must be in [8, {1 << 20}], got {self.seq_len}"),
            (0.0 <= self.valid_fraction < 1.0, f"--valid-fraction must be in [0, 1), got {self.valid_fraction}"),
            (self.chunk_size >= 1, f"--chunk-size must be >= 1, got {self.chunk_size}"),
            (self.num_shards is None or self.num_shards >= 1, f"--num-shards must be >= 1, got {self.num_shards}"),
            (self.target_shard_bytes >= 1, f"--target-shard-bytes must be >= 1, got {self.target_shard_bytes}"),
            (0.0 <= self.short_seq_prob <= 1.0, f"--short-seq-prob must be in [0, 1], got {self.short_seq_prob}"),
            (self.dupe_factor >= 1, f"--dupe-factor must be >= 1, got {self.dupe_factor}"),
            (self.packing in PACKINGS, f"--packing must be one of {', '.join(PACKINGS)}, got {self.packing!r}"),
            (self.negative_pool >= 2, f"--negative-pool must be >= 2, got {self.negative_pool}"),
            (self.pair_overflow in OVERFLOWS,
             f"--pair-overflow must be one of {', '.join(OVERFLOWS)}, got {self.pair_overflow!r}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        self._check_objective_options()

    def _check_objective_options(self) -> None:
        """A flag the chosen objective does not read is an error, not silently ignored."""
        reads = get_builder(self.objective).options
        defaults = {f.name: f.default for f in fields(self)}
        for name, flag in OBJECTIVE_FLAGS.items():
            if name not in reads and getattr(self, name) != defaults[name]:
                users = [o for o, b in BUILDERS.items() if name in b.options]
                raise ValueError(f"{flag} applies to {', '.join(users)} only, not {self.objective}; drop it")

    @property
    def reads(self) -> str:
        """The input the objective's builder takes: "documents" or "parallel"."""
        return get_builder(self.objective).reads

    @property
    def unit(self) -> str:
        """What input records are counted as: documents or pairs."""
        return UNITS[self.reads]

    @property
    def languages_on(self) -> bool:
        """Whether examples carry language ids (schemas.OBJECTIVES decides, with --per-language)."""
        return with_languages(self.objective, self.per_language)

    def builder_options(self, special_ids: dict[str, int], languages: dict[str, int]) -> BuildOptions:
        return BuildOptions(seq_len=self.seq_len, seed=self.seed, cls_id=special_ids["cls"],
                            sep_id=special_ids["sep"], short_seq_prob=self.short_seq_prob,
                            dupe_factor=self.dupe_factor, packing=self.packing, per_language=self.per_language,
                            negative_pool=self.negative_pool, pair_overflow=self.pair_overflow, languages=languages)

    def recorded(self) -> dict[str, Any]:
        """The configuration the manifest records: everything that shapes the bytes (not where they go)."""
        out = asdict(self)
        del out["output"], out["storage_options"]
        return out


# ----------------------------------------------------------------------------- pure helpers


def hash_units(head: tuple[str, ...], keys: Iterable[str]) -> np.ndarray:
    """An unsalted, runner-independent hash in [0, 1) of (*head, key) for every key, as one
    float64 array: blake2b of the parts joined by NUL."""
    prefix = "".join(f"{part}\x00" for part in head)
    digests = b"".join(hashlib.blake2b(f"{prefix}{key}".encode("utf-8"), digest_size=8).digest() for key in keys)
    return np.frombuffer(digests, dtype=">u8").astype(np.float64) / 2**64


def hash_unit(*parts: str) -> float:
    """`hash_units` of one key (the last part)."""
    return float(hash_units(parts[:-1], parts[-1:])[0])


def assign_split(batch: DocBatch, seed: int, valid_fraction: float) -> Iterator[tuple[str, DocBatch]]:
    """(split, its documents of the batch) for each split the batch's documents fall in."""
    valid = hash_units(("split", str(seed)), batch.doc_ids) < valid_fraction
    for split, mask in zip(SPLITS, (~valid, valid)):
        if mask.any():
            yield split, batch.select(np.flatnonzero(mask))


def shard_indices(doc_ids: Iterable[str], num_shards: int) -> np.ndarray:
    """Each document's shard: a hash of its id alone, scaled to [0, num_shards)."""
    return (hash_units(("shard",), doc_ids) * num_shards).astype(np.int64)


def shard_index(doc_id: str, num_shards: int) -> int:
    return int(shard_indices([doc_id], num_shards)[0])


def doc_counts(split_batch: tuple[str, DocBatch], unit: str = "documents") -> dict[str, int]:
    """Kept input records' counts (`unit`: documents, or pairs, whose reads the reader counts)."""
    split, batch = split_batch
    tokens = int(batch.sentence_offsets[-1])
    counts = Counter({unit: len(batch), f"{unit}/{split}": len(batch), "sentences": len(batch.sentence_offsets) - 1,
                      "tokens": tokens, f"tokens/{split}": tokens})
    counts.update(f"{unit}/lang/{lang}" for lang in batch.langs)
    if unit == "documents":
        counts["documents/read"] = len(batch)
    return dict(counts)


def language_table(counts: dict[str, int], config: BuildConfig) -> dict[str, int]:
    """Language code -> id, in code order, over every language of the input (the manifest's
    `languages`); empty when the examples carry no language ids."""
    if not config.languages_on:
        return {}
    keys = [k.split("/", 2)[2] for k in counts if k.startswith(f"{config.unit}/lang/")]
    codes = sorted({code for key in keys for code in (key.split("-") if config.unit == "pairs" else [key])})
    if len(codes) > MAX_LANGUAGES:
        raise ValueError(f"{len(codes)} languages in the input but language ids are uint8: "
                         f"keep at most {MAX_LANGUAGES} (shardlm clean --langs)")
    return {code: i for i, code in enumerate(codes)}


def plan_shards(counts: dict[str, int], config: BuildConfig, bytes_per_token: int) -> dict[str, int]:
    """Shards per split: --num-shards, or tokens * bytes per token / target bytes (at least 1);
    never more than the split's documents; none for a split without documents."""
    plan = {}
    for split in SPLITS:
        docs = counts.get(f"{config.unit}/{split}", 0)
        wanted = config.num_shards or max(
            1, math.ceil(counts.get(f"tokens/{split}", 0) * bytes_per_token / config.target_shard_bytes))
        plan[split] = min(wanted, docs)
    return plan


def build_examples(docs: list[TokenizedDoc], config: BuildConfig, special_ids: dict[str, int],
                   counter: Counter, context: ShardContext, languages: dict[str, int]) -> ExampleColumns:
    """The examples of one shard's documents, in a deterministic order, as columns."""
    builder = get_builder(config.objective)
    return builder.build(shard_order(docs), builder.make_config(config.builder_options(special_ids, languages)),
                         counter, context)


def shard_order(docs: list[TokenizedDoc]) -> list[TokenizedDoc]:
    """The documents by id, those sharing an id by their tokens: an order that does not depend on
    the order they arrived in. Tokens are compared only where ids repeat (every document's tokens
    as a sort key cost 0.08-0.13 s of CPU for the 18k documents of a 64 MB shard, this 0.03 s)."""
    docs = sorted(docs, key=lambda d: d.doc_id)
    start = 0
    while start < len(docs):
        end = start + 1
        while end < len(docs) and docs[end].doc_id == docs[start].doc_id:
            end += 1
        if end - start > 1:
            docs[start:end] = sorted(docs[start:end], key=lambda d: d.ids.tobytes())
        start = end
    return docs


def pool_candidates(split_batch: tuple[str, DocBatch], seed: int, seq_len: int) -> tuple[str, PoolCandidates]:
    """(split, the batch's documents' entries in the bottom-k sample of nsp's negative pool)."""
    split, batch = split_batch
    return split, candidates_of(batch, seed, WINDOW_SEQ_LENS * seq_len)


class SmallestRanks(beam.CombineFn):
    """The `n` pool entries of smallest rank, in rank order (a bottom-k sample)."""

    def __init__(self, n: int):
        self._n = n

    def create_accumulator(self) -> PoolCandidates:
        return PoolCandidates()

    def add_input(self, accumulator: PoolCandidates, candidates: PoolCandidates) -> PoolCandidates:
        accumulator.add(candidates)
        return accumulator.smallest(self._n) if len(accumulator) > 2 * self._n else accumulator

    def merge_accumulators(self, accumulators: Iterable[PoolCandidates]) -> PoolCandidates:
        merged = PoolCandidates()
        for accumulator in accumulators:
            merged.add(accumulator)
        return merged.smallest(self._n)

    def compact(self, accumulator: PoolCandidates) -> PoolCandidates:
        return accumulator.smallest(self._n)

    def extract_output(self, accumulator: PoolCandidates) -> PoolCandidates:
        return accumulator.smallest(self._n)


def to_pool(split_candidates: tuple[str, PoolCandidates]) -> tuple[str, NegativePool]:
    split, candidates = split_candidates
    return split, NegativePool.of_batch(candidates.windows)


def example_counts(examples: ExampleColumns, split: str, languages: dict[str, int]) -> Counter:
    """Tokens per split, and examples and tokens per language when examples carry language ids
    (`lang`: the example's; tlm's `langs`: an example counts for each of its languages, tokens
    for their own). Per-language keys in the order their languages first appear. Read from the
    columns at once."""
    lengths = examples.lengths()
    counter: Counter = Counter({f"example_tokens/{split}": int(lengths.sum())})
    # (example, language, tokens) of every language of every example, in example then id order
    parts = []
    if "lang" in examples.values:
        parts.append((np.arange(len(examples), dtype=np.int64), np.asarray(examples.values["lang"], dtype=np.int64),
                      lengths))
    if "langs" in examples.tokens and len(examples.tokens["langs"]):
        # runs of one language within one example (tlm: A's block, B's block), then the runs
        # summed by (example, language): a sort of a few entries per example, not of every token
        owner = np.repeat(np.arange(len(examples), dtype=np.int64), lengths)
        key = owner * (MAX_LANGUAGES + 1) + examples.tokens["langs"].astype(np.int64)
        starts = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))
        keys, where = np.unique(key[starts], return_inverse=True)
        tokens = np.bincount(where, weights=np.diff(np.append(starts, len(key)))).astype(np.int64)
        parts.append((keys // (MAX_LANGUAGES + 1), keys % (MAX_LANGUAGES + 1), tokens))
    if not parts or not len(examples):
        return counter
    owner, lang, tokens = (np.concatenate(column) for column in zip(*parts))
    order = np.lexsort((lang, owner))
    lang, tokens = lang[order], tokens[order]
    per_lang_examples = np.bincount(lang)
    per_lang_tokens = np.bincount(lang, weights=tokens).astype(np.int64)
    _, first = np.unique(lang, return_index=True)
    codes = {i: code for code, i in languages.items()}
    for i in lang[np.sort(first)].tolist():
        counter[f"examples/lang/{codes[i]}"] += int(per_lang_examples[i])
        counter[f"tokens/lang/{codes[i]}"] += int(per_lang_tokens[i])
    return counter


def sum_counts(dicts: Iterable[dict[str, int]]) -> dict[str, int]:
    total: Counter = Counter()
    for d in dicts:
        total.update(d)
    return dict(total)


# ----------------------------------------------------------------------------- Beam steps


def key_by_shard(split_batch: tuple[str, DocBatch], plan: dict[str, int]) -> Iterator[tuple[tuple[str, int], DocBatch]]:
    """((split, shard), its documents of the batch) for each shard the batch's documents fall in."""
    split, batch = split_batch
    shards = shard_indices(batch.doc_ids, plan[split])
    for index in np.unique(shards).tolist():
        yield (split, index), batch.select(np.flatnonzero(shards == index))


def every_shard(plan: dict[str, int]) -> Iterator[tuple[tuple[str, int], None]]:
    """A placeholder per planned shard, so that a shard with no documents is still written."""
    for split in SPLITS:
        for index in range(plan[split]):
            yield (split, index), None


def write_group(group: tuple[tuple[str, int], Iterable[DocBatch | None]], config: BuildConfig,
                special_ids: dict[str, int], schema, languages: dict[str, int],
                pools: dict[str, NegativePool]) -> tuple[ShardInfo, dict[str, int]]:
    (split, index), values = group
    docs = [doc for batch in values if batch is not None for doc in batch.docs()]
    counter: Counter = Counter()
    context = ShardContext(split=split, negative_pool=pools.get(split, NegativePool()))
    examples = build_examples(docs, config, special_ids, counter, context, languages)
    counter.update(example_counts(examples, split, languages))
    batches = rechunk(examples_table(examples, schema), config.chunk_size) if len(examples) else []
    info = write_shard(config.output, split, index, batches, config.storage_options)
    progress.count("shards")
    progress.count("examples", len(examples))
    return info, dict(counter)


def commit(_, config: BuildConfig, tokenizer_info: dict, schema, written: list, counts: dict,
           languages: dict[str, int]) -> None:
    """Write manifest.json last, from every shard's info and the summed counts."""
    manifest = shard_set_manifest(
        objective=config.objective, seq_len=config.seq_len, tokenizer=tokenizer_info, schema=schema,
        shards=[info for info, _ in written],
        counts=sum_counts([counts, *(c for _, c in written)]),
        created_by={"tool": "shardlm build", "version": tool_version(), "config": config.recorded()})
    if config.languages_on:
        manifest["languages"] = languages
    write_manifest(config.output, manifest, config.storage_options)


def build_pipeline(p: beam.Pipeline, config: BuildConfig, files: list, tokenizer_info: dict) -> None:
    """Wire the transforms (see the module docstring)."""
    schema = examples_schema(config.objective, tokenizer_info["vocab_size"], config.per_language)
    fields = PairFields(src=config.src_field, tgt=config.tgt_field)
    docs, input_counts = (p | "Files" >> beam.Create(files)
                          | "Input" >> ReadAndTokenize(config.reads, config.output, tokenizer_info,
                                                       config.storage_options, fields))
    assigned = docs | "Split" >> beam.FlatMap(assign_split, config.seed, config.valid_fraction)
    counts = (
        (assigned | "DocCounts" >> beam.Map(doc_counts, config.unit), input_counts)
        | "AllCounts" >> beam.Flatten() | "SumCounts" >> beam.CombineGlobally(sum_counts))
    plan = counts | "Plan" >> beam.Map(plan_shards, config, token_dtype(tokenizer_info["vocab_size"]).byte_width)
    languages = counts | "Languages" >> beam.Map(language_table, config)
    if get_builder(config.objective).needs_negative_pool:
        pools = (assigned | "PoolCandidates" >> beam.Map(pool_candidates, config.seed, config.seq_len)
                 | "Pool" >> beam.CombinePerKey(SmallestRanks(config.negative_pool))
                 | "ToPool" >> beam.Map(to_pool))
    else:
        pools = p | "NoPool" >> beam.Create([])
    written = (
        (assigned | "Key" >> beam.FlatMap(key_by_shard, AsSingleton(plan)),
         plan | "EveryShard" >> beam.FlatMap(every_shard))
        | "Shards" >> beam.Flatten() | "Group" >> beam.GroupByKey()
        | "Write" >> beam.Map(write_group, config, tokenizer_info["special_ids"], schema,
                              AsSingleton(languages), AsDict(pools)))
    _ = (p | "Once" >> beam.Create([None])
         | "Commit" >> beam.Map(commit, config, tokenizer_info, schema, AsList(written), AsSingleton(counts),
                                AsSingleton(languages)))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shardlm build", description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True, help="documents dataset folder (output of `shardlm clean`); "
                        "tlm: a parallel corpus, TSV or JSONL files (a file, folder or glob)")
    parser.add_argument("--tokenizer", required=True, help="tokenizer folder or tokenizer.json URL")
    parser.add_argument("--objective", required=True, metavar="|".join(BUILDERS), help="; ".join(
        f"{name}: {OBJECTIVES[name].description}" for name in BUILDERS))
    parser.add_argument("--seq-len", required=True, type=int,
                        help="tokens per example, special tokens included (8 or more)")
    parser.add_argument("--output", required=True, help="shard-set folder URL")
    config_flag(parser, "--seed", BuildConfig, type=int,
                help="seeds the valid split and every document's example draws")
    config_flag(parser, "--valid-fraction", BuildConfig, type=float,
                help="share of documents held out as the valid split, by a seeded hash of their id")
    config_flag(parser, "--chunk-size", BuildConfig, type=int, help="examples per tar member (Arrow chunk)")
    sizing = parser.add_mutually_exclusive_group()
    config_flag(sizing, "--num-shards", BuildConfig, type=int,
                help="shards per split (default: from --target-shard-bytes)")
    config_flag(sizing, "--target-shard-bytes", BuildConfig, type=int,
                help="plan each split's shard count so that a shard holds about this many token bytes")
    config_flag(parser, "--short-seq-prob", BuildConfig, type=float,
                help="nsp, sop: probability of a shorter random target length (Google BERT)")
    config_flag(parser, "--dupe-factor", BuildConfig, type=int, help="nsp, sop: passes over each document")
    config_flag(parser, "--packing", BuildConfig, choices=PACKINGS,
                help="mlm, clm: full (FULL-SENTENCES, crosses documents) or doc (DOC-SENTENCES)")
    config_flag(parser, "--per-language", BuildConfig, action="store_true",
                help="mlm: one stream per language of the documents, each example with its language id")
    config_flag(parser, "--negative-pool", BuildConfig, type=int,
                help="nsp: documents per split (a seeded corpus-wide sample) random B segments come from")
    parser.add_argument("--langs", default=None, metavar="L1,L2",
                        help="tlm: the languages of every input file (default: from names *.<l1>-<l2>.tsv)")
    config_flag(parser, "--src-field", BuildConfig, help="tlm, JSONL: the field (dotted path) of the source side")
    config_flag(parser, "--tgt-field", BuildConfig, help="tlm, JSONL: the field (dotted path) of the target side")
    config_flag(parser, "--pair-overflow", BuildConfig, choices=OVERFLOWS,
                help="tlm: a pair longer than --seq-len is dropped (XLM) or truncated in proportion")
    add_storage_flag(parser)
    progress.add_progress_flag(parser)
    return parser


def progress_plan(config: BuildConfig, files: list) -> progress.Plan:
    """Documents read of the input manifest's rows (tlm: parallel files read), examples and shards written."""
    if config.reads == "documents":
        unit, total = "documents", retrying(lambda: read_manifest(config.input, config.storage_options)["rows"],
                                            f"reading the manifest of {config.input}")
    else:
        unit, total = "files", len(files)
    return progress.Plan(job="build", unit=unit, total=total, num_files=len(files),
                         shown=(("pairs", "pairs"), ("examples", "examples"), ("shards", "shards written")),
                         after="build and write shards")


def main(argv: list[str] | None = None) -> dict:
    """Run the job; returns the manifest it wrote."""
    args, options = parse_job_args(build_parser(), argv)
    config = BuildConfig(
        input=args.input, tokenizer=args.tokenizer, objective=args.objective, seq_len=args.seq_len,
        output=args.output.rstrip("/"), seed=args.seed, valid_fraction=args.valid_fraction,
        chunk_size=args.chunk_size, num_shards=args.num_shards, target_shard_bytes=args.target_shard_bytes,
        short_seq_prob=args.short_seq_prob, dupe_factor=args.dupe_factor, packing=args.packing,
        per_language=args.per_language, negative_pool=args.negative_pool, langs=parse_langs(args.langs),
        src_field=args.src_field, tgt_field=args.tgt_field, pair_overflow=args.pair_overflow,
        storage_options=args.storage_options)
    check_url(config.output)
    if config.reads == "parallel":
        files = parallel_files(config.input, config.langs, config.storage_options)
    else:
        files = document_files(config.input, config.storage_options)
    # the tokenizer goes into the shard set as OUTPUT/tokenizer/ (a vocab.txt, vocab.json + merges.txt
    # or .model converted first); the manifest names it relative to the set (shards.tokenizer)
    tokenizer_info = tokenizer_for_build(config.tokenizer, config.output, config.storage_options)
    if uncommit(config.output, config.storage_options):
        log.info("removed the old manifest of %s; it is committed again when this job ends", config.output)
    watched = args.progress and is_direct_runner(options)
    with progress.Watch(progress_plan(config, files) if watched else None), beam.Pipeline(options=options) as p:
        build_pipeline(p, config, files, tokenizer_info)
    manifest = read_manifest(config.output, config.storage_options)
    counts = manifest["counts"]
    if not counts["examples"]:
        log.warning("%s holds no examples: the input had no text to build from", config.output)
    log.info("wrote %d shards, %d examples to %s", counts["shards"], counts["examples"], config.output)
    return manifest
