"""Loader throughput at seq 128 with masking: examples per CPU second, on the same examples.

    .venv/bin/python benchmarks/loader.py --work /tmp/bench-loader [--examples 200000] [--batch-size 256] [--rounds 3]

Builds BERT NSP examples (seq 128, the `bert-base-uncased` WordPiece vocabulary) from the real
English text of `../shared/data` with the project's own builders, repeats them up to
`--examples`, and writes them twice: as a shardlm shard set (Arrow chunks of 1024 examples per
tar member) and with one example per tar member (`KEY.json` holding all its columns, a
one-member WebDataset sample). Then, in one process, one after the other, it reads every
example once with each loader, pads batches of `--batch-size`, and (unless told not to) masks
every batch with `trainer.masking.Masker` (`mask_tokens`, the trainer's token-level masking):

- `BatchStream`: `shards.batches.BatchStream`, masking in its transform hook (shuffle buffer 10,000);
  `BatchStream, numpy masking`: the same with `Masker(compiled=False)`, the numpy path that runs
  where numba is not installed (the same masks);
  `BatchStream, length groups G`: the same with windows of G batches sorted by length (less
  padding; `--length-groups`, default 8);
- `ShardStream + collate`: today's per-example stream, `trainer.data.collate`, shuffle buffer 10,000;
- `webdataset` / `tarfile` over the chunk shards: plain iteration, each chunk decoded and
  unbatched into example dicts, `collate`;
- `webdataset` / `tarfile` over the one-example-per-member shards: `.decode()` / `json.loads`
  per member, `collate`.

"per core" is examples per CPU second of the process and its DataLoader workers
(`resource.getrusage`), with torch held to one thread. Rows with workers run the same loader in
a `DataLoader` with `--workers` worker processes. Results: a markdown table on stdout and
`WORK/results.json`.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import resource
import sys
import tarfile
import time
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import pyarrow as pa
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipelines.build.objectives import BuildOptions, ShardContext, examples_table, get_builder  # noqa: E402
from pipelines.build.objectives.negative_pool import NegativePool  # noqa: E402
from pipelines.build.tokenize_docs import tokenize_documents  # noqa: E402
from schemas import examples_schema, read_manifest  # noqa: E402
from shards.batches import BatchConfig, BatchCoords, BatchStream, batch_loader, pad_counts  # noqa: E402
from shards.columns import real_positions  # noqa: E402
from shards.format import decode_chunk  # noqa: E402
from shards.storage import expand_urls  # noqa: E402
from shards.stream import ShardStream, StreamConfig  # noqa: E402
from shards.writer import ShardSetWriter  # noqa: E402
from trainer.config import VocabInfo  # noqa: E402
from trainer.data import collate  # noqa: E402
from trainer.masking import BatchRandom, Masker, MaskingConfig, batch_seed  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data"  # ../shared/data beside the checkout
SEQ_LEN = 128
NUM_SHARDS = 8
SHUFFLE_BUFFER = 10_000
SEED = 0


# ----------------------------------------------------------------------------- data


def tokenizer_path(data: Path) -> Path:
    return data / "tokenizers" / "bert-base-uncased-wordpiece" / "tokenizer.json"


def english_documents(data: Path) -> list[tuple[str, str]]:
    """(doc id, text): Botchan in 20-paragraph documents, English fortunes and Debian Reference paragraphs in tens."""
    def grouped(prefix: str, texts: list[str], size: int) -> list[tuple[str, str]]:
        return [(f"{prefix}-{i // size:05d}", "\n".join(texts[i:i + size])) for i in range(0, len(texts), size)]

    botchan = [line.strip() for line in (data / "text" / "botchan.txt").read_text().splitlines() if line.strip()]
    fortunes = [json.loads(line)["text"] for line in (data / "text" / "fortunes-5lang.jsonl").open()
                if json.loads(line)["lang"] == "en"]
    debian = [line.split("\t")[0] for line in (data / "parallel" / "debian-reference.en-de.tsv").open()]
    return grouped("botchan", botchan, 20) + grouped("fortune", fortunes, 10) + grouped("debian", debian, 10)


def nsp_examples(tokenizer, data: Path) -> tuple[pa.Table, dict[str, int]]:
    """The NSP examples of the English text (google-research/bert's recipe, seq 128) and the special ids."""
    docs, _ = tokenize_documents(tokenizer, english_documents(data))
    specials = {k: tokenizer.token_to_id(t) for k, t in
                (("pad", "[PAD]"), ("unk", "[UNK]"), ("cls", "[CLS]"), ("sep", "[SEP]"), ("mask", "[MASK]"))}
    builder = get_builder("nsp")
    config = builder.make_config(BuildOptions(seq_len=SEQ_LEN, seed=SEED, cls_id=specials["cls"], sep_id=specials["sep"]))
    examples = list(builder.build(docs, config, Counter(), ShardContext(negative_pool=NegativePool(docs))))
    return examples_table(examples, examples_schema("nsp", tokenizer.get_vocab_size())), specials


def write_chunk_shards(folder: Path, table: pa.Table, tokenizer_info: dict) -> list[str]:
    per_shard = table.nbytes // NUM_SHARDS + 1
    with ShardSetWriter(str(folder), objective="nsp", seq_len=SEQ_LEN, tokenizer=tokenizer_info, schema=table.schema,
                        max_shard_bytes=per_shard) as writer:
        writer.write(table)
    return expand_urls(str(folder))


def _member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o444
    tar.addfile(info, io.BytesIO(data))


def write_sample_shards(folder: Path, table: pa.Table) -> list[str]:
    """One example per tar member: KEY.json holding all its columns (a one-member WebDataset sample)."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = table.to_pylist()
    per_shard = -(-len(rows) // NUM_SHARDS)
    urls = []
    for s in range(NUM_SHARDS):
        path = folder / f"samples-{s:06d}.tar"
        with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
            for i in range(s * per_shard, min(len(rows), (s + 1) * per_shard)):
                _member(tar, f"{i:09d}.json", json.dumps(rows[i], separators=(",", ":")).encode())
        urls.append(str(path))
    return urls


def prepare(work: Path, num_examples: int, data: Path) -> dict[str, Any]:
    """Write (or reuse) both shard sets in `work`; returns their URLs and the vocabulary facts."""
    done = work / "prepared.json"
    if done.exists():
        prepared = json.loads(done.read_text())
        if prepared["examples"] == num_examples:
            return prepared
    from tokenizers import Tokenizer

    if not tokenizer_path(data).exists():
        raise SystemExit(f"{tokenizer_path(data)} is absent: point --shared-data at the shared test material")
    tokenizer = Tokenizer.from_file(str(tokenizer_path(data)))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    base, specials = nsp_examples(tokenizer, data)
    repeats = -(-num_examples // base.num_rows)
    table = pa.concat_tables([base] * repeats).slice(0, num_examples).combine_chunks()
    info = {"url": str(tokenizer_path(data)), "vocab_size": tokenizer.get_vocab_size(), "special_ids": specials}
    prepared = {"examples": num_examples, "distinct_examples": base.num_rows,
                "chunk_urls": write_chunk_shards(work / "chunks", table, info),
                "sample_urls": write_sample_shards(work / "samples", table),
                "vocab_size": tokenizer.get_vocab_size(), "special_ids": specials,
                "mean_tokens": float(np.mean(np.diff(table.column("input_ids").chunks[0].offsets.to_numpy())))}
    done.write_text(json.dumps(prepared, indent=1))
    return prepared


# ----------------------------------------------------------------------------- masking


@dataclass(frozen=True)
class MaskTransform:
    """BatchStream's transform: model inputs from the padded columns, masked in the worker."""

    masker: Masker | None

    def __call__(self, batch: dict[str, Any], coords: BatchCoords) -> dict[str, Any]:
        ids, lengths = batch["input_ids"], batch["_length"].numpy()
        width = ids.shape[1]
        real = real_positions(lengths, width, np.int64)  # 1 on the example's tokens
        segment_a = real_positions(np.minimum(batch["segment_b_start"].numpy(), lengths), width, np.int64)
        attention, token_types = torch.from_numpy(real), torch.from_numpy(real - segment_a)  # B: from its start on
        out = {"input_ids": ids, "attention_mask": attention, "token_type_ids": token_types,
               "next_sentence_label": batch["next_sentence_label"]}
        if self.masker is not None:
            seed = batch_seed(SEED, coords.epoch, coords.rank, coords.worker, coords.position)
            out["input_ids"], out["labels"] = self.masker(ids, attention, BatchRandom(seed))
        return out


def masked(batches: Iterable[dict], masker: Masker | None) -> Iterator[dict]:
    """Mask collated batches in the loop (the baselines), seeded by a batch counter."""
    for i, batch in enumerate(batches):
        if masker is not None:
            batch["input_ids"], batch["labels"] = masker(batch["input_ids"], batch["attention_mask"],
                                                         BatchRandom(batch_seed(SEED, 0, 0, 0, i)))
        yield batch


# ----------------------------------------------------------------------------- loaders


def batched(examples: Iterable[dict], size: int, pad_id: int) -> Iterator[dict]:
    batch: list[dict] = []
    for example in examples:
        batch.append(example)
        if len(batch) == size:
            yield collate(batch, pad_id=pad_id)
            batch = []
    if batch:
        yield collate(batch, pad_id=pad_id)


def chunk_examples(tables: Iterable[pa.Table]) -> Iterator[dict]:
    """Unbatch decoded chunks into example dicts (what a plain reader of the chunk shards does)."""
    for table in tables:
        yield from table.to_pylist()


def tar_members(urls: list[str]) -> Iterator[tuple[str, bytes]]:
    for url in urls:
        with tarfile.open(url, mode="r|") as tar:
            for member in tar:
                if member.isfile():
                    yield member.name, tar.extractfile(member).read()


def tarfile_chunks(urls: list[str]) -> Iterator[pa.Table]:
    for _, data in tar_members(urls):
        yield decode_chunk(data)


def tarfile_samples(urls: list[str]) -> Iterator[dict]:
    for _, data in tar_members(urls):
        yield json.loads(data)


def webdataset_chunks(urls: list[str]) -> Iterator[pa.Table]:
    import webdataset as wds

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for sample in wds.WebDataset(urls, shardshuffle=False):
            yield decode_chunk(sample["arrow"])


def webdataset_samples(urls: list[str]) -> Iterator[dict]:
    import webdataset as wds

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for sample in wds.WebDataset(urls, shardshuffle=False).decode():
            yield sample["json"]


def loaders(prep: dict, batch_size: int, workers: int, masker: Masker | None,
            length_groups: int = 8) -> dict[str, Callable[[], Iterable]]:
    chunks, samples, pad = prep["chunk_urls"], prep["sample_urls"], prep["special_ids"]["pad"]
    numpy_masker = None if masker is None else Masker(masker.vocab, masker.config, compiled=False)
    stream_config = StreamConfig(seed=SEED, shuffle_buffer=SHUFFLE_BUFFER)
    columns = StreamConfig(seed=SEED, shuffle_buffer=SHUFFLE_BUFFER,
                           columns=("input_ids", "segment_b_start", "next_sentence_label"))

    def batch_stream(num_workers: int, length_groups: int = 1, masking: Masker | None = masker) -> Iterable:
        batch = BatchConfig(batch_size=batch_size, pad_values={"input_ids": pad}, length_groups=length_groups)
        stream = BatchStream(chunks, columns, batch=batch, transform=MaskTransform(masking), rank=0, world_size=1)
        return batch_loader(stream, num_workers=num_workers)

    def shard_stream(num_workers: int) -> Iterable:
        from functools import partial
        from torch.utils.data import DataLoader

        loader = DataLoader(ShardStream(chunks, stream_config, rank=0, world_size=1), batch_size=batch_size,
                            num_workers=num_workers, collate_fn=partial(collate, pad_id=pad))
        return masked(loader, masker)

    rows = {
        "BatchStream": lambda: batch_stream(0),
        f"BatchStream, length groups {length_groups}": lambda: batch_stream(0, length_groups),
        "BatchStream, numpy masking": lambda: batch_stream(0, masking=numpy_masker),
        "ShardStream + collate": lambda: shard_stream(0),
        "webdataset, chunk shards": lambda: masked(batched(chunk_examples(webdataset_chunks(chunks)), batch_size, pad),
                                                   masker),
        "tarfile, chunk shards": lambda: masked(batched(chunk_examples(tarfile_chunks(chunks)), batch_size, pad),
                                                masker),
        "webdataset, one example per member": lambda: masked(batched(webdataset_samples(samples), batch_size, pad),
                                                             masker),
        "tarfile, one example per member": lambda: masked(batched(tarfile_samples(samples), batch_size, pad), masker),
    }
    if workers:
        rows[f"BatchStream, {workers} workers"] = lambda: batch_stream(workers)
        rows[f"ShardStream + collate, {workers} workers"] = lambda: shard_stream(workers)
    return rows


# ----------------------------------------------------------------------------- measuring


def cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure(make: Callable[[], Iterable]) -> dict[str, float]:
    """Read every batch once; examples, real tokens, padded positions, CPU and wall seconds."""
    cpu, wall = cpu_seconds(), time.perf_counter()
    examples = tokens = positions = 0
    for batch in make():
        mask = batch["attention_mask"]
        examples += mask.shape[0]
        tokens += int(mask.sum())
        positions += mask.numel()
    cpu, wall = cpu_seconds() - cpu, time.perf_counter() - wall
    return {"examples": examples, "cpu_s": cpu, "wall_s": wall, "per_core": examples / cpu,
            "padded_fraction": 1 - tokens / positions}


def mask_only(prep: dict, batch_size: int, masker: Masker, seconds: float = 2.0) -> float:
    """Examples/s of the masking function alone on a full batch of 128 tokens."""
    ids = torch.randint(1000, prep["vocab_size"], (batch_size, SEQ_LEN))
    attention = torch.ones_like(ids)
    done, start = 0, cpu_seconds()
    while cpu_seconds() - start < seconds:
        masker(ids, attention, BatchRandom(done))
        done += batch_size
    return done / (cpu_seconds() - start)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", required=True, type=Path, help="folder for the shard sets and results.json")
    parser.add_argument("--shared-data", type=Path, default=DEFAULT_DATA, help="the shared test material folder")
    parser.add_argument("--examples", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers for the extra rows (0: none)")
    parser.add_argument("--no-mask", action="store_true", help="measure loading and padding alone")
    parser.add_argument("--only", action="append", default=[], help="a row to run (repeat; default: all rows)")
    parser.add_argument("--length-groups", type=int, default=8,
                        help="G of the `BatchStream, length groups G` row (windows of G batches sorted by length)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure every row this many times, rows taking turns, and keep each row's least CPU "
                             "(the machine is shared: the least is the least disturbed)")
    return parser


def main(argv: list[str] | None = None) -> dict:
    args = build_parser().parse_args(argv)
    torch.set_num_threads(1)
    args.work.mkdir(parents=True, exist_ok=True)
    prep = prepare(args.work, args.examples, args.shared_data)
    specials = prep["special_ids"]
    masker = None if args.no_mask else Masker(VocabInfo(vocab_size=prep["vocab_size"], special_ids=specials),
                                              MaskingConfig())
    rows = loaders(prep, args.batch_size, args.workers, masker, args.length_groups)
    unknown = [r for r in args.only if r not in rows]
    if unknown:
        raise SystemExit(f"no row {unknown[0]!r}; rows: {', '.join(rows)}")
    chosen = [r for r in rows if not args.only or r in args.only]
    for name in chosen:  # first-use costs of each code path (imports, allocator) out of the figures
        if "workers" not in name:
            for _ in itertools.islice(rows[name](), 2):
                pass
    results: dict[str, dict[str, float]] = {}
    for _ in range(args.rounds):
        for name in chosen:
            r = measure(rows[name])
            if name not in results or r["cpu_s"] < results[name]["cpu_s"]:
                results[name] = r
    for name, r in results.items():
        assert r["examples"] == args.examples, f"{name} read {r['examples']} of {args.examples} examples"
    reference = results.get("BatchStream", next(iter(results.values())))["per_core"]
    print(f"\n{args.examples:,} examples ({prep['distinct_examples']:,} distinct, mean {prep['mean_tokens']:.1f} "
          f"tokens), batch {args.batch_size}, masking {'off' if masker is None else 'on'}\n")
    print("| loader | examples/s per core | CPU s | wall s | padded positions | BatchStream is |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['per_core']:,.0f} | {r['cpu_s']:.2f} | {r['wall_s']:.2f} | "
              f"{r['padded_fraction']:.1%} | {reference / r['per_core']:.1f}x |")
    summary = {"args": {k: str(v) for k, v in vars(args).items()}, "prepared": prep, "results": results}
    if masker is not None:
        summary["mask_only_per_core"] = mask_only(prep, args.batch_size, masker)
        print(f"\nmask_tokens alone on {args.batch_size} x {SEQ_LEN}: {summary['mask_only_per_core']:,.0f} examples/s")
    (args.work / ("results.json" if masker else "results-nomask.json")).write_text(json.dumps(summary, indent=1))
    return summary


if __name__ == "__main__":
    main()
