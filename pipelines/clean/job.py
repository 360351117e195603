"""`shardlm clean`: raw crawl files (WARC, WET, JSONL, text, Parquet) -> the documents dataset.

    python -m pipelines.clean --input URL_OR_GLOB [--input ...] --output URL [Beam options]

read -> extract -> normalize -> language -> quality filters -> URL, exact, near and line dedup
-> Parquet parts, rejects, manifest. This module only wires transforms; the logic lives in
readers, extract, textnorm, langid, filters (and quality/), dedup, neardedup, linededup and
documents_io. Stats are computed as data (one reason key per outcome, counted per
key, handed to the commit step as a side input), so they are right on every runner; the same
names are Beam Metrics counters for monitoring.
"""

from __future__ import annotations

import argparse
import logging
import math
from dataclasses import asdict, dataclass, replace

import apache_beam as beam
from apache_beam.metrics.metric import MetricsFilter

from pipelines import documents_io as dio
from pipelines import progress
from pipelines.clean.dedup import METRICS_NAMESPACE, ExactDedup, UrlDedup, count_metric
from pipelines.clean.extract import DEFAULT_EXTRACTOR, EXTRACTORS, check_extractor
from pipelines.clean.filters import PRESETS, FilterConfig, LangConfig, clean_record, configure, manifest_config
from pipelines.clean.langid import parse_langs
from pipelines.clean.linededup import LineDedup, LineDedupConfig
from pipelines.clean.minhash import VERIFY_MODES, NearDedupConfig
from pipelines.clean.neardedup import NearDedup
from pipelines.options import add_storage_flag, is_direct_runner, parse_job_args
from pipelines.clean.readers import (FORMATS, Drop, RawRecord, ReaderConfig, Reject, check_columns, expand_inputs,
                                     input_pieces, read_input, resolve_format)
from schemas import read_manifest, uncommit, write_manifest
from schemas.flags import config_flag
from shards.storage import check_url, retrying

log = logging.getLogger(__name__)

# Default number of parts: one per this many input bytes (at least one). Deterministic: it
# depends only on the input files' sizes.
INPUT_BYTES_PER_PART = 512 << 20


@dataclass(frozen=True, kw_only=True)
class CleanJob:
    files: tuple[str, ...]
    names: tuple[str, ...]  # each file's name relative to its --input: what documents and ids know of it
    output: str
    reader: ReaderConfig
    filters: FilterConfig
    langs: LangConfig
    extractor: str
    url_dedup: bool
    near_dedup: NearDedupConfig | None  # None: off
    line_dedup: LineDedupConfig | None  # None: off
    num_parts: int
    storage_options: dict
    # Rebalance records between reading and cleaning (a fusion break). On distributed runners one
    # big file would otherwise be cleaned by the worker that read it; the DirectRunner would
    # instead hold every raw page in memory there, so main() turns it off for it.
    spread_records: bool = True
    dropped_fraction: float = 0.0  # --write-dropped: the share of dropped documents written to .dropped/
    config: dict  # what the manifest records under created_by.config
    input_bytes: int = 0  # of every input file, as listed: the progress line's total


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shardlm clean", description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", action="append", required=True, metavar="URL_OR_GLOB",
                        help="input file, folder or glob (any fsspec URL); repeatable")
    parser.add_argument("--output", required=True, metavar="URL", help="dataset folder to write")
    config_flag(parser, "--format", ReaderConfig, choices=FORMATS,
                help="input format (default auto: from each file's extension)")
    config_flag(parser, "--text-field", ReaderConfig, help="JSONL field or Parquet column holding the text")
    config_flag(parser, "--url-field", ReaderConfig, help="JSONL field or Parquet column holding the URL, if any")
    config_flag(parser, "--id-field", ReaderConfig,
                help="JSONL field or Parquet column holding a record's own id, if any: the document id "
                     "hashes it (else the file's name and line or row number)")
    config_flag(parser, "--timestamp-field", ReaderConfig,
                help="JSONL field or Parquet column holding a record's time (ISO 8601, epoch seconds, or a "
                     "Parquet timestamp or date), if any: --url-dedup keeps the newest")
    parser.add_argument("--num-parts", type=int, default=None,
                        help=f"number of Parquet parts (default: one per {INPUT_BYTES_PER_PART >> 20} MiB of input)")
    parser.add_argument("--extractor", default=DEFAULT_EXTRACTOR, choices=sorted(EXTRACTORS),
                        help=f"HTML main-text extractor (default {DEFAULT_EXTRACTOR}; docs/language.md)")
    parser.add_argument("--langs", default=None, metavar="CODE[,CODE...]",
                        help="keep only documents identified as these languages, e.g. en,de (default: all)")
    config_flag(parser, "--lang-min-score", LangConfig, field="min_score", type=float,
                help="drop documents whose language score is below this (default %(default)s; FineWeb: 0.65)")
    parser.add_argument("--preset", default="basic", metavar="NAME[,NAME...]",
                        help=f"quality filter presets, combinable with commas: {', '.join(PRESETS)} "
                             f"(default basic; docs/filters.md)")
    parser.add_argument("--wordlist", default=None, metavar="URL",
                        help="drop documents containing any word or phrase of this file (one per line)")
    parser.add_argument("--mask-pii", action="store_true",
                        help="replace e-mail addresses with <email> and public IP addresses with <ip>")
    parser.add_argument("--write-dropped", type=float, nargs="?", const=1.0, default=0.0, metavar="FRACTION",
                        help="write dropped documents with their reason to .dropped/ beside .rejects/: all of "
                             "them, or this fraction, sampled by id (default off; docs/commands.md)")
    add_dedup_flags(parser)
    add_storage_flag(parser)
    progress.add_progress_flag(parser)
    return parser


def add_dedup_flags(parser: argparse.ArgumentParser) -> None:
    defaults = NearDedupConfig()
    on_off = argparse.BooleanOptionalAction
    parser.add_argument("--url-dedup", action=on_off, default=True,
                        help="keep the newest crawl of each normalized URL (default on)")
    parser.add_argument("--near-dedup", action=on_off, default=True,
                        help="MinHash LSH near-duplicate removal (default on)")
    parser.add_argument("--minhash-bands", type=int, default=defaults.num_bands,
                        help=f"LSH bands (default {defaults.num_bands}, FineWeb)")
    parser.add_argument("--minhash-rows", type=int, default=defaults.rows_per_band,
                        help=f"rows per band (default {defaults.rows_per_band}, FineWeb)")
    parser.add_argument("--minhash-ngram", type=int, default=defaults.ngram,
                        help=f"words per shingle (default {defaults.ngram})")
    parser.add_argument("--near-dedup-verify", default=defaults.verify, choices=VERIFY_MODES,
                        help=f"how candidate pairs are checked before linking (default {defaults.verify})")
    parser.add_argument("--near-dedup-threshold", type=float, default=defaults.min_similarity,
                        help=f"Jaccard similarity that makes a near duplicate (default {defaults.min_similarity})")
    parser.add_argument("--line-dedup", action=on_off, default=True,
                        help="remove lines repeated across documents, C4-style (default on)")


def plan(args: argparse.Namespace) -> CleanJob:
    """Check the configuration and list the input files: fails fast, before any work."""
    if args.num_parts is not None and args.num_parts < 1:
        raise ValueError(f"--num-parts must be at least 1, got {args.num_parts}")
    if not 0.0 <= args.write_dropped <= 1.0:
        raise ValueError(f"--write-dropped takes a fraction in (0, 1], got {args.write_dropped}")
    check_url(args.output)
    found = expand_inputs(args.input, args.storage_options)
    for url, _, _ in found:
        resolve_format(url, args.format)
        try:
            url.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"input file name {url.encode('utf-8', 'backslashreplace').decode()} is not "
                             f"valid UTF-8; rename it") from None
    num_parts = args.num_parts or max(1, math.ceil(sum(f.size for f in found) / INPUT_BYTES_PER_PART))
    reader = ReaderConfig(format=args.format, text_field=args.text_field, url_field=args.url_field,
                          id_field=args.id_field, timestamp_field=args.timestamp_field)
    check_columns([f.url for f in found if resolve_format(f.url, args.format) == "parquet"], reader,
                  args.storage_options)
    filters = configure(args.preset, wordlist_url=args.wordlist, mask_pii=args.mask_pii,
                        storage_options=args.storage_options)
    near = NearDedupConfig(num_bands=args.minhash_bands, rows_per_band=args.minhash_rows, ngram=args.minhash_ngram,
                           verify=args.near_dedup_verify, min_similarity=args.near_dedup_threshold) \
        if args.near_dedup else None
    lines = LineDedupConfig() if args.line_dedup else None
    langs = LangConfig(keep=parse_langs(args.langs) if args.langs else None, min_score=args.lang_min_score)
    extractor = check_extractor(args.extractor)
    config = {"inputs": list(args.input), "format": args.format, "text_field": args.text_field,
              "url_field": args.url_field, "id_field": args.id_field, "timestamp_field": args.timestamp_field,
              "num_parts": num_parts, "filters": manifest_config(filters),
              "wordlist": args.wordlist, "extractor": extractor,
              "langs": sorted(langs.keep) if langs.keep else None, "lang_min_score": langs.min_score,
              "url_dedup": args.url_dedup,
              "near_dedup": asdict(near) if near else None, "line_dedup": asdict(lines) if lines else None,
              **({"write_dropped": args.write_dropped} if args.write_dropped else {})}
    return CleanJob(files=tuple(f.url for f in found), names=tuple(f.name for f in found), output=args.output.rstrip("/"), reader=reader,
                    filters=filters, langs=langs, extractor=extractor, url_dedup=args.url_dedup, near_dedup=near, line_dedup=lines,
                    num_parts=num_parts, storage_options=args.storage_options, dropped_fraction=args.write_dropped,
                    config=config, input_bytes=sum(f.size for f in found))


# --- thin per-element steps (module level, so they pickle by reference) -------------------------

def clean_item(item, filters: FilterConfig, langs: LangConfig, extractor: str, dropped_fraction: float = 0.0):
    if isinstance(item, RawRecord):
        item = clean_record(item, filters, count_metric, langs=langs, extractor=extractor,
                            dropped_fraction=dropped_fraction)
    progress.count("rejected" if isinstance(item, Reject) else "filtered" if isinstance(item, Drop) else "passed")
    return item


def language_of(row: dict) -> str:
    count_metric(f"lang/{row['lang']}")
    return row["lang"]


def route_item(item, num_partitions: int) -> int:
    return 0 if isinstance(item, dict) else 1


def count_outcome(item) -> str:
    key = dio.outcome_key(item)
    count_metric("read")
    count_metric(key)
    return key


def key_by_part(row: dict, num_parts: int) -> tuple[int, dict]:
    return (dio.part_of(row["id"], num_parts), row)


def write_part(keyed: tuple[int, list], folder: str, storage_options: dict) -> dict:
    index, rows = keyed
    entry = dio.write_part(folder, index, (r for r in rows if r is not None), storage_options)
    progress.count("parts")
    return entry


def key_reject(reject: dict, num_parts: int) -> tuple[int, dict]:
    return (dio.reject_part(reject, num_parts), reject)


def write_rejects(keyed: tuple[int, list], folder: str, storage_options: dict) -> dict:
    index, rejects = keyed
    return dio.write_rejects(folder, index, (r for r in rejects if r is not None), storage_options)


class LostRecordsError(RuntimeError):
    """Records read do not all come out as kept, dropped or rejected: a bug, never committed."""


def commit(_, job: CleanJob, files: list[dict], rejects: list[dict], counts: dict[str, int],
           languages: dict[str, int], read: int, dropped: list[dict] | None = None) -> str:
    stats = dio.stats_from_counts(counts, languages)
    if stats["read"] != read:  # `read` is counted where records leave the readers
        raise LostRecordsError(f"{read} records were read but {stats['read']} came out kept, dropped or "
                               f"rejected; {job.output} is left uncommitted (a bug in shardlm: please report it)")
    manifest = dio.documents_manifest(files=files, rejects=rejects, stats=stats, config=job.config,
                                      dropped=dropped)
    return retrying(lambda: write_manifest(job.output, manifest, job.storage_options),
                    f"writing the manifest of {job.output}")


# --- the pipeline -----------------------------------------------------------------------------

class Dedup(beam.PTransform):
    """URL -> exact -> near -> line dedup; every input row comes out once, as a kept row or a
    Drop: returns (kept rows, drops).

    URL first, so the newest crawl of a page is the one the later stages see; exact before near
    because it is cheap and shrinks the MinHash work; near before line, because removing shared
    lines first would leave a near duplicate's differing fragments looking distinct.
    """

    def __init__(self, job: CleanJob):
        super().__init__()
        self.stages = ([("UrlDedup", UrlDedup())] if job.url_dedup else []) + [("ExactDedup", ExactDedup())] \
            + ([("NearDedup", NearDedup(job.near_dedup, job.dropped_fraction))] if job.near_dedup else []) \
            + ([("LineDedup", LineDedup(job.line_dedup, job.dropped_fraction))] if job.line_dedup else [])

    def expand(self, rows):
        dropped = []
        for name, transform in self.stages:
            rows, drops = rows | name >> transform | f"Split{name}" >> beam.Partition(route_item, 2)
            dropped.append(drops)
        return rows, tuple(dropped) | "Drops" >> beam.Flatten()


def build_pipeline(p: beam.Pipeline, job: CleanJob) -> None:
    items = (p
             | "Files" >> beam.Create([(url, 0, name) for url, name in zip(job.files, job.names)])
             | "SpreadFiles" >> beam.Reshuffle()
             # a large Parquet file is several pieces (its footer read on a worker: a job's graph
             # stays one element a file however many pieces there are)
             | "Pieces" >> beam.FlatMap(input_pieces, job.reader, job.storage_options)
             | "SpreadPieces" >> beam.Reshuffle()
             | "Read" >> beam.FlatMap(read_input, job.reader, job.storage_options))
    read = items | "CountRead" >> beam.combiners.Count.Globally()
    if job.spread_records:
        items = items | "SpreadRecords" >> beam.Reshuffle()
    items = items | "Clean" >> beam.Map(clean_item, job.filters, job.langs, job.extractor, job.dropped_fraction)
    docs, others = items | "Route" >> beam.Partition(route_item, 2)
    kept, dedup_drops = docs | "Dedup" >> Dedup(job)
    # Each outcome becomes its stats key where it is made, so the collections flattened here
    # hold short strings, not documents (the DirectRunner keeps a flattened collection in memory).
    counts = (tuple(items | f"OutcomeKey{name}" >> beam.Map(count_outcome)
                    for name, items in (("Kept", kept), ("DedupDrops", dedup_drops), ("Others", others)))
              | "Outcomes" >> beam.Flatten()
              | "CountPerKey" >> beam.combiners.Count.PerElement())
    rejects = (others
               | "Rejects" >> beam.Filter(lambda item: isinstance(item, Reject))
               | "RejectJson" >> beam.Map(Reject.to_json)
               | "KeyRejects" >> beam.Map(key_reject, job.num_parts))
    every_reject_part = p | "RejectParts" >> beam.Create([(i, None) for i in range(job.num_parts)])
    rejects = ((rejects, every_reject_part)
               | "WithEmptyRejectParts" >> beam.Flatten()
               | "GroupRejects" >> beam.GroupByKey()
               | "WriteRejects" >> beam.Map(write_rejects, job.output, job.storage_options)
               | "AllRejectParts" >> beam.combiners.ToList())
    languages = (kept
                 | "Language" >> beam.Map(language_of)
                 | "CountLanguages" >> beam.combiners.Count.PerElement())
    every_part = p | "PartIndexes" >> beam.Create([(i, None) for i in range(job.num_parts)])
    files = ((kept | "KeyByPart" >> beam.Map(key_by_part, job.num_parts), every_part)
             | "WithEmptyParts" >> beam.Flatten()
             | "GroupParts" >> beam.GroupByKey()
             | "WriteParts" >> beam.Map(write_part, job.output, job.storage_options)
             | "AllParts" >> beam.combiners.ToList())
    extra = {"dropped": beam.pvalue.AsSingleton(write_dropped_parts(p, job, (dedup_drops, others)))} \
        if job.dropped_fraction else {}
    _ = (p
         | "Once" >> beam.Create([None])
         | "Commit" >> beam.Map(commit, job, files=beam.pvalue.AsSingleton(files),
                                rejects=beam.pvalue.AsSingleton(rejects),  # one entry per part
                                counts=beam.pvalue.AsDict(counts),
                                languages=beam.pvalue.AsDict(languages),
                                read=beam.pvalue.AsSingleton(read), **extra))


def has_document(item) -> bool:
    return isinstance(item, Drop) and item.document is not None


def key_dropped(line: dict, num_parts: int) -> tuple[int, dict]:
    return (dio.part_of(line["id"], num_parts), line)


def write_dropped(keyed: tuple[int, list], folder: str, storage_options: dict) -> dict:
    index, lines = keyed
    return dio.write_dropped(folder, index, (d for d in lines if d is not None), storage_options)


def write_dropped_parts(p: beam.Pipeline, job: CleanJob, drops: tuple):
    """--write-dropped: the dropped documents the sample kept, in `.dropped/` parts keyed like the
    documents; returns the collection of the parts' manifest entries (as one list)."""
    every_part = p | "DroppedParts" >> beam.Create([(i, None) for i in range(job.num_parts)])
    kept = (drops
            | "AllDrops" >> beam.Flatten()
            | "WithDocument" >> beam.Filter(has_document)
            | "DroppedJson" >> beam.Map(dio.dropped_json)
            | "KeyDropped" >> beam.Map(key_dropped, job.num_parts))
    return ((kept, every_part)
            | "WithEmptyDroppedParts" >> beam.Flatten()
            | "GroupDropped" >> beam.GroupByKey()
            | "WriteDropped" >> beam.Map(write_dropped, job.output, job.storage_options)
            | "AllDroppedParts" >> beam.combiners.ToList())


def main(argv: list[str] | None = None) -> dict:
    """Run the job; returns the manifest it committed."""
    args, options = parse_job_args(build_parser(), argv)
    job = replace(plan(args), spread_records=not is_direct_runner(options))
    if retrying(lambda: uncommit(job.output, job.storage_options), f"uncommitting {job.output}"):  # URL checked
        log.info("removed the old manifest of %s; it is committed again when this job ends", job.output)
    log.info("cleaning %d input files into %d parts at %s", len(job.files), job.num_parts, job.output)
    p = beam.Pipeline(options=options)
    build_pipeline(p, job)
    with progress.Watch(progress_plan(job) if args.progress and is_direct_runner(options) else None):
        result = p.run()
        result.wait_until_finish()
    manifest = retrying(lambda: read_manifest(job.output, job.storage_options), f"reading {job.output}")
    log.info("shardlm clean: %d documents in %d parts at %s\n%s%s", manifest["rows"], len(manifest["files"]),
             job.output, dio.summary_table(manifest["stats"]), line_counters(result))
    return manifest


def progress_plan(job: CleanJob) -> progress.Plan:
    """Input bytes read of the listing's total; outcomes of the filters so far; parts written."""
    return progress.Plan(job="clean", unit="bytes", total=job.input_bytes, num_files=len(job.files),
                         shown=(("passed", "passed filters"), ("filtered", "filtered out"),
                                ("rejected", "rejected"), ("parts", f"parts {{}}/{job.num_parts} written")),
                         after="dedup and write")


def line_counters(result) -> str:
    """The Beam counters that are not record outcomes (removed lines by reason, masked e-mails,
    languages dropped, near-dedup candidates), as lines for the summary; empty if the runner
    reports no metrics."""
    try:
        found = result.metrics().query(MetricsFilter().with_namespace(METRICS_NAMESPACE))["counters"]
    except (NotImplementedError, KeyError, AttributeError):
        return ""
    values: dict[str, int] = {}
    for counter in found:
        name = counter.key.metric.name
        if not (name in ("read", "kept") or name.startswith(("dropped/", "rejected/", "lang/"))):
            values[name] = values.get(name, 0) + (counter.committed or counter.attempted or 0)
    if not values:
        return ""
    width = max(map(len, values))
    return "\ncounters:\n" + "\n".join(f"  {k:<{width}}  {values[k]:>10,d}" for k in sorted(values))
