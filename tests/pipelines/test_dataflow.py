"""The real Dataflow jobs of `shardlm clean` and `shardlm build`, built offline by Beam's dry run.

`--runner DataflowRunner --dry_run=True --no_auth` runs everything the Dataflow runner does
before it talks to Google Cloud (apache_beam/runners/dataflow/dataflow_runner.py,
`run_pipeline`): the Dataflow overrides, pickling every DoFn and CombineFn into the portable
pipeline proto, the docker environment, the `--setup_file` sdist, and the `Job` request; then
it returns instead of staging and submitting. So what these tests build is the job Dataflow
would get, and a step that does not translate (an unpicklable closure, a non-deterministic
key coder) fails here, offline.

Beam validates the options even in a dry run: `--project p` and `gs://b/...` (a one-letter
bucket) are rejected, and an invalid temp location makes it look up a default bucket over the
network, so the flags below use a well-formed project id and bucket name.

The jobs' `main()` also does I/O around the pipeline (it removes an old manifest, reads the
new one), so the tests call the module's own planning and `build_pipeline` and run a Pipeline
made from the job's own option parsing. Inputs are local files (on Dataflow they are gs://);
outputs are gs:// URLs that nothing touches at graph-construction time.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

pytest.importorskip("apache_beam.runners.dataflow.internal.apiclient",
                    reason="the Dataflow runner needs apache-beam[gcp]: pip install 'apache-beam[gcp]'")

import apache_beam as beam  # noqa: E402
from apache_beam.internal import pickler  # noqa: E402
from apache_beam.options.pipeline_options import DebugOptions  # noqa: E402
from apache_beam.portability import common_urns, python_urns  # noqa: E402
from apache_beam.portability.api import beam_runner_api_pb2  # noqa: E402
from apache_beam.runners.dataflow.internal import apiclient  # noqa: E402

from pipelines.build import job as build  # noqa: E402
from pipelines.build.inputs import TokenizeFn  # noqa: E402
from pipelines.clean import job as clean  # noqa: E402
from pipelines.options import parse_job_args  # noqa: E402
from pipelines.tokenizer.load import load_tokenizer  # noqa: E402
from tests.pipelines.conftest import synthetic_texts, write_documents  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
BUCKET = "gs://shardlm-dry-run"
DATAFLOW_FLAGS = ["--runner", "DataflowRunner", "--dry_run=True", "--no_auth",
                  "--project", "shardlm-dry-run", "--region", "us-central1",
                  "--temp_location", f"{BUCKET}/tmp"]

# Steps each job must have, matched as a segment of a step path ("Dedup/NearDedup" has
# "NearDedup"), so nesting may change; the other top-level steps are printed, not required.
CLEAN_CORE = {"Files", "Read", "Clean", "UrlDedup", "ExactDedup", "NearDedup", "LineDedup", "GroupParts",
              "WriteParts", "WriteRejects", "Commit"}
BUILD_CORE = {"Files", "Read", "Tokenize", "Split", "SumCounts", "Plan", "Languages", "Group", "Write", "Commit"}
# User code lives in these payloads; each must unpickle to the callable Beam will run on workers.
PICKLED_DOFN = python_urns.PICKLED_DOFN_INFO
PARDO = common_urns.primitives.PAR_DO.urn
COMBINE_URNS = {common_urns.composites.COMBINE_PER_KEY.urn, common_urns.combine_components.COMBINE_GROUPED_VALUES.urn}


def dry_run(pipeline: beam.Pipeline) -> apiclient.Job:
    result = pipeline.run()
    assert result.state == beam.runners.runner.PipelineState.DONE
    return result.job


def step_names(job: apiclient.Job) -> list[str]:
    return [t.unique_name for t in job.proto_pipeline.components.transforms.values()
            if t.unique_name and not t.unique_name.startswith("ref_")]


def unpickled_user_code(job: apiclient.Job) -> dict[str, object]:
    """Step name -> the DoFn or CombineFn unpickled from the proto, as the worker would."""
    out = {}
    for t in job.proto_pipeline.components.transforms.values():
        if t.spec.urn == PARDO:
            fn = beam_runner_api_pb2.ParDoPayload.FromString(t.spec.payload).do_fn
        elif t.spec.urn in COMBINE_URNS:
            fn = beam_runner_api_pb2.CombinePayload.FromString(t.spec.payload).combine_fn
        else:
            continue
        if fn.urn in (PICKLED_DOFN, python_urns.PICKLED_COMBINE_FN):
            out[t.unique_name] = pickler.loads(fn.payload)
    return out


def check_job(job: apiclient.Job, core: set[str], name: str) -> dict[str, object]:
    assert job.proto.type_ == apiclient.dataflow.JobType.JOB_TYPE_BATCH
    # Runner v2 is added by Beam itself: docs/dataflow.md passes no --experiments.
    assert "use_runner_v2" in job.options.view_as(DebugOptions).experiments
    envs = list(job.proto_pipeline.components.environments.values())
    assert envs and all(e.urn == common_urns.environments.DOCKER.urn for e in envs)
    names = step_names(job)
    segments = {seg for n in names for seg in n.split("/")}
    assert core <= segments, f"missing steps: {sorted(core - segments)}"
    print(f"{name}: core steps {sorted(core)}; other top-level steps "
          f"{sorted({n for n in names if '/' not in n} - core)}")
    code = unpickled_user_code(job)
    for step in core - {"Files", "GroupParts", "Group"}:  # a Create's values and a GroupByKey hold no user fn
        assert any(step in n.split("/") for n in code), f"{step}: no pickled user code"
    return code


# --- clean ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def crawl(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("crawl")
    (folder / "a.jsonl").write_text(json.dumps({"text": "One small document with some words."}) + "\n")
    (folder / "b.txt").write_text("Another small document.\n")
    return folder


def clean_pipeline(crawl: Path, *extra: str) -> tuple[beam.Pipeline, clean.CleanJob]:
    args, options = parse_job_args(clean.build_parser(), [
        "--input", str(crawl / "*"), "--output", f"{BUCKET}/docs", *DATAFLOW_FLAGS, *extra])
    job = clean.plan(args)
    pipeline = beam.Pipeline(options=options)
    clean.build_pipeline(pipeline, job)
    return pipeline, job


def test_clean_translates_for_dataflow(crawl):
    pipeline, job = clean_pipeline(crawl)
    code = check_job(dry_run(pipeline), CLEAN_CORE, "clean")
    # The read step carries the job's own configuration to the workers.
    _, read_args, _, _, _ = code["Read"]  # (DoFn, args, kwargs, side inputs, windowing)
    assert list(read_args) == [job.reader, job.storage_options]
    assert sorted(job.files) == sorted(str(p) for p in crawl.iterdir())


@pytest.mark.slow
def test_clean_stages_the_package_with_setup_file(crawl):
    """`--setup_file ./setup.py`: Beam builds an sdist of shardlm and stages it as workflow.tar.gz."""
    pipeline, _ = clean_pipeline(crawl, "--setup_file", str(REPO / "setup.py"))
    job = dry_run(pipeline)
    staged = {}
    for env in job.proto_pipeline.components.environments.values():
        for dep in env.dependencies:
            to = beam_runner_api_pb2.ArtifactStagingToRolePayload.FromString(dep.role_payload).staged_name
            staged[to] = beam_runner_api_pb2.ArtifactFilePayload.FromString(dep.type_payload).path
    assert "workflow.tar.gz" in staged
    with tarfile.open(staged["workflow.tar.gz"]) as tar:
        members = {Path(*Path(m).parts[1:]).as_posix(): m for m in tar.getnames()}
        metadata = tar.extractfile(members["PKG-INFO"]).read().decode()
    assert {"pyproject.toml", "pipelines/clean/job.py", "pipelines/build/job.py", "schemas/__init__.py",
            "shards/writer.py"} <= set(members)
    # what a worker pip-installs: the core, without torch, transformers or webdataset (extras only)
    requires = [line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    core = [r for r in requires if "extra ==" not in r]
    assert any(r.startswith("apache-beam") for r in core)
    assert not [r for r in core if r.startswith(("torch", "transformers", "webdataset"))]
    assert any(r.startswith("torch") and 'extra == "train"' in r for r in requires)


# --- build ---------------------------------------------------------------------------------------

def write_tokenizer(folder: Path) -> str:
    """A tiny word-level tokenizer.json with the BERT special tokens."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = sorted({w.strip(".!?") for t in synthetic_texts(20) for w in t.split()})
    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    path = folder / "tokenizer.json"
    tok.save(str(path))
    return str(path)


def test_build_translates_for_dataflow(tmp_path):
    docs = write_documents(str(tmp_path / "docs"), synthetic_texts(20), files=2)
    tokenizer = write_tokenizer(tmp_path)
    argv = ["--input", docs, "--tokenizer", tokenizer, "--objective", "nsp", "--seq-len", "32",
            "--output", f"{BUCKET}/shards", *DATAFLOW_FLAGS]
    args, options = parse_job_args(build.build_parser(), argv)
    config = build.BuildConfig(input=args.input, tokenizer=args.tokenizer, objective=args.objective,
                               seq_len=args.seq_len, output=args.output, storage_options=args.storage_options)
    _, tokenizer_info = load_tokenizer(config.tokenizer)
    pipeline = beam.Pipeline(options=options)
    build.build_pipeline(pipeline, config, build.document_files(config.input), tokenizer_info)
    code = check_job(dry_run(pipeline), BUILD_CORE | {"Pool"}, "build")  # nsp: the negative pool's combine
    tokenize_fn = code["Input/Tokenize/ParDo(TokenizeFn)"][0]
    assert isinstance(tokenize_fn, TokenizeFn) and tokenize_fn._encoder is None  # loaded in setup()


def test_build_tlm_translates_for_dataflow(tmp_path):
    (tmp_path / "pairs.en-de.tsv").write_text("Alice visited the old bridge.\tAlice besuchte die alte Brücke.\n")
    tokenizer = write_tokenizer(tmp_path)
    argv = ["--input", str(tmp_path / "pairs.en-de.tsv"), "--tokenizer", tokenizer, "--objective", "tlm",
            "--seq-len", "32", "--output", f"{BUCKET}/tlm", *DATAFLOW_FLAGS]
    args, options = parse_job_args(build.build_parser(), argv)
    config = build.BuildConfig(input=args.input, tokenizer=args.tokenizer, objective=args.objective,
                               seq_len=args.seq_len, output=args.output, storage_options=args.storage_options)
    _, tokenizer_info = load_tokenizer(config.tokenizer)
    pipeline = beam.Pipeline(options=options)
    build.build_pipeline(pipeline, config, build.parallel_files(config.input, None), tokenizer_info)
    code = check_job(dry_run(pipeline), BUILD_CORE, "build tlm")
    tokenize_fn = code["Input/Tokenize/ParDo(TokenizeFn)"][0]
    assert tokenize_fn._reads == "parallel"
