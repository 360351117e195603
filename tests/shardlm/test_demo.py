"""`shardlm demo`: its orchestration pieces, and (slow) the whole flow on the sample corpus."""

import re
import shutil
from pathlib import Path

import pytest

from shardlm import demo


def test_stage_argvs_use_each_commands_flags(tmp_path):
    config = demo.DemoConfig(workdir=tmp_path, steps=7)
    argvs = demo.stage_argvs(config, {"warc": "c/sample.warc.gz", "jsonl": "c/sample.jsonl"})
    assert list(argvs) == ["clean", "tokenizer", "build", "train"]
    assert argvs["clean"] == ("clean", ["--input", "c/sample.warc.gz", "--input", "c/sample.jsonl",
                                        "--output", f"{tmp_path}/documents"])
    assert argvs["tokenizer"] == ("tokenizer", ["--input", f"{tmp_path}/documents", "--kind", "wordpiece",
                                                "--vocab-size", "3000", "--output", f"{tmp_path}/tokenizer"])
    assert argvs["build"] == ("build", ["--input", f"{tmp_path}/documents", "--tokenizer", f"{tmp_path}/tokenizer",
                                        "--objective", "nsp", "--seq-len", "64", "--output", f"{tmp_path}/shards"])
    assert argvs["train"] == ("train", ["--model", "bert", "--size", "tiny", "--data", f"{tmp_path}/shards",
                                        "--output", f"{tmp_path}/run", "--max-steps", "7", "--batch-size", "32"])


def _plan(tmp_path, model):
    """{stage: (command, the flags that matter)} of the demo of `model`."""
    stages = demo.stage_argvs(demo.DemoConfig(workdir=tmp_path, model=model), {"warc": "w", "jsonl": "j"})
    out = {}
    for name, (command, argv) in stages.items():
        flags, i = {}, 0
        while i < len(argv):  # "--flag value", or a switch "--flag" followed by another flag
            takes_value = i + 1 < len(argv) and not argv[i + 1].startswith("--")
            flags[argv[i]] = argv[i + 1] if takes_value else True
            i += 2 if takes_value else 1
        keep = {"tokenizer": ("--kind",), "build": ("--objective", "--per-language", "--output"),
                "train": ("--model", "--data", "--output", "--teacher", "--init")}.get(command, ())
        out[name] = (command, {k: v for k, v in flags.items() if k in keep})
    return out


def _train_steps(tmp_path, model, steps=None):
    stages = demo.stage_argvs(demo.DemoConfig(workdir=tmp_path, model=model, steps=steps), {"warc": "w", "jsonl": "j"})
    return {name: int(argv[argv.index("--max-steps") + 1]) for name, (command, argv) in stages.items()
            if command == "train"}


def test_each_run_trains_its_models_steps_unless_steps_is_given(tmp_path):
    assert _train_steps(tmp_path, "bert") == {"train": 400}
    # longformer continues a roberta that trained its own 400 steps
    assert _train_steps(tmp_path, "longformer") == {"train-roberta": 400, "train": 100}
    assert _train_steps(tmp_path, "distilbert") == {"train-bert": 400, "train": demo.PLANS["distilbert"].steps}
    assert _train_steps(tmp_path, "longformer", steps=3) == {"train-roberta": 3, "train": 3}


def test_every_registered_model_has_a_plan():
    from trainer.models import MODEL_NAMES

    assert sorted(demo.PLANS) == sorted(MODEL_NAMES)


@pytest.mark.parametrize("model, kind, objective, per_language", [
    ("bert", "wordpiece", "nsp", False), ("roberta", "bytelevel", "mlm", False), ("electra", "wordpiece", "mlm", False),
    ("albert", "unigram", "sop", False), ("xlmr", "unigram", "mlm", True), ("xlm", "bpe", "mlm", True)])
def test_plan_builds_the_shards_each_model_needs(tmp_path, model, kind, objective, per_language):
    plan = _plan(tmp_path, model)
    assert list(plan) == ["clean", "tokenizer", "build", "train"]
    assert plan["tokenizer"][1] == {"--kind": kind}
    build = {"--objective": objective, "--output": f"{tmp_path}/shards"}
    assert plan["build"] == ("build", {**build, "--per-language": True} if per_language else build)
    assert plan["train"] == ("train", {"--model": model, "--data": f"{tmp_path}/shards", "--output": f"{tmp_path}/run"})


def test_distilbert_plan_trains_a_bert_teacher_on_nsp_shards_first(tmp_path):
    plan = _plan(tmp_path, "distilbert")
    assert list(plan) == ["clean", "tokenizer", "build", "build-bert", "train-bert", "train"]
    assert plan["build"][1]["--objective"] == "mlm"
    assert plan["build-bert"] == ("build", {"--objective": "nsp", "--output": f"{tmp_path}/shards-first"})
    assert plan["train-bert"] == ("train", {"--model": "bert", "--data": f"{tmp_path}/shards-first",
                                            "--output": f"{tmp_path}/run-first"})
    assert plan["train"] == ("train", {"--model": "distilbert", "--data": f"{tmp_path}/shards",
                                       "--output": f"{tmp_path}/run", "--teacher": f"{tmp_path}/run-first/hf"})


def test_longformer_plan_starts_from_a_roberta_on_the_same_shards(tmp_path):
    plan = _plan(tmp_path, "longformer")
    assert list(plan) == ["clean", "tokenizer", "build", "train-roberta", "train"]
    assert plan["tokenizer"][1] == {"--kind": "bytelevel"}
    assert plan["train-roberta"] == ("train", {"--model": "roberta", "--data": f"{tmp_path}/shards",
                                               "--output": f"{tmp_path}/run-first"})
    assert plan["train"][1]["--init"] == f"{tmp_path}/run-first"


@pytest.mark.parametrize("model", sorted(demo.PLANS))
def test_each_plan_builds_the_shards_its_models_trainer_takes(tmp_path, model):
    """The trainer's registry decides which shards a model takes: every run a plan makes (the model's,
    and the teacher's or starting model's) gets a shard set whose objective (and languages, for
    xlm) its spec accepts."""
    from trainer.models import check_shards, for_shards, get_model_spec

    stages = demo.stage_argvs(demo.DemoConfig(workdir=tmp_path, model=model), {"warc": "w", "jsonl": "j"})
    built = {}  # shard folder -> the manifest the build stage would write (the fields the trainer checks)
    for command, argv in stages.values():
        flags = dict(zip(argv, argv[1:]))
        if command == "build":
            built[flags["--output"]] = {"objective": flags["--objective"], "seq_len": int(flags["--seq-len"]),
                                        "tokenizer": {"vocab_size": 100, "special_ids": {"pad": 0, "mask": 4}},
                                        **({"languages": {"en": 0}} if "--per-language" in argv else {})}
        if command == "train":
            manifest = built[flags["--data"]]  # trains on shards the demo built before it
            spec = for_shards(get_model_spec(flags["--model"]), manifest, flags["--data"])
            assert check_shards(spec, flags["--size"], manifest, flags["--data"]).vocab_size == 100


def test_learned_pairs_each_metric_with_its_baseline():
    evaluation = {"eval_mlm_accuracy": 0.12345, "eval_mlm_unigram_accuracy": 0.06, "eval_nsp_accuracy": 0.7,
                  "eval_nsp_majority_accuracy": 0.5, "eval_loss": 3.0}
    assert demo.learned(evaluation) == {"mlm_accuracy": [0.1235, 0.06], "nsp_accuracy": [0.7, 0.5]}
    assert demo.learned({}) == {}
    # ELECTRA: the discriminator beside always answering "original" (1 - the share of replaced tokens),
    # not the majority class (the same figure while fewer than half are replaced, as here they are not)
    electra = {"eval_rtd_accuracy": 0.9, "eval_rtd_majority_accuracy": 0.6, "eval_rtd_replaced_share": 0.6,
               "eval_sop_accuracy": 0.6}
    assert demo.learned(electra) == {"rtd_accuracy": [0.9, 0.4]}


def test_learned_lines_say_what_each_baseline_does_and_the_ratio():
    lines = demo.learned_lines({"mlm_accuracy": [0.2, 0.06], "sop_accuracy": [0.5, 0.55], "rtd_accuracy": [0.9, 0.9]})
    assert lines == ["    [MASK] accuracy 0.2000, always the most frequent token 0.0600: 3.33x",
                     "    sentence-order (SOP) accuracy 0.5000, always the majority class 0.5500: 0.91x",
                     '    replaced-token detection accuracy 0.9000, always "original" 0.9000: 1.00x']


class _Words:
    """A stand-in byte-level tokenizer: a word with the space before it is one piece ("Ġword"), the
    mask token one piece; with `lstrip` the mask token takes the space before it (RoBERTa's), else
    that space is a piece of its own ("Ġ")."""

    mask_token, mask_token_id = "<mask>", 0

    def __init__(self, lstrip=True):
        self.ids, self.lstrip = {"<mask>": 0}, lstrip

    def pieces(self, text):
        if self.lstrip:
            text = text.replace(" <mask>", "<mask>")
        return [p.replace(" ", "Ġ") for p in re.findall(r"<mask>| ?[^ <]+| ", text)]

    def __call__(self, text):
        return {"input_ids": [self.ids.setdefault(p, len(self.ids)) for p in self.pieces(text)]}

    def convert_ids_to_tokens(self, i):
        return {v: k for k, v in self.ids.items()}[i]


class _Shifting(_Words):
    """Tokenizes the words before the mask otherwise when the answer is in place."""

    def pieces(self, text):
        pieces = super().pieces(text)
        return pieces if self.mask_token in text else [p.upper() for p in pieces]


def test_masked_sentence_puts_the_mask_where_the_answers_token_is():
    assert _Words().pieces("the <mask> of") == ["the", "<mask>", "Ġof"]
    assert _Words(lstrip=False).pieces("the <mask> of") == ["the", "Ġ", "<mask>", "Ġof"]
    assert demo.masked_sentence(_Words(), "the {mask} of", "town") == ("the <mask> of", "Ġtown")
    assert demo.masked_sentence(_Words(), "{mask} of", "Town") == ("<mask> of", "Town")
    # a mask token that leaves the space before it alone: written without that space
    assert demo.masked_sentence(_Words(lstrip=False), "the {mask} of", "town") == ("the<mask> of", "Ġtown")
    with pytest.raises(ValueError, match="splits 'the {mask} of' differently around 'town'"):
        demo.masked_sentence(_Shifting(), "the {mask} of", "town")


def test_parse_args_defaults():
    assert demo.parse_args([]) == demo.DemoConfig(workdir=Path("build/demo"), model="bert", steps=None, seed=0)
    assert demo.parse_args(["--steps", "9"]).steps == 9
    assert demo.parse_args(["--model", "albert"]).model == "albert"
    with pytest.raises(SystemExit):
        demo.parse_args(["--steps", "0"])
    with pytest.raises(SystemExit):
        demo.parse_args(["--model", "t5"])


def test_document_stats_groups_reasons():
    stats = {"read": 10, "kept": 6, "dropped/too_short": 2, "dropped/duplicate": 1, "rejected/not_html": 1}
    assert demo.document_stats(stats) == {"read": 10, "kept": 6, "dropped": {"duplicate": 1, "too_short": 2},
                                          "rejected": {"not_html": 1}}


def test_prepare_workdir_refuses_a_foreign_folder_and_clears_its_own(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(ValueError, match="is not empty and was not made by `shardlm demo`"):
        demo.prepare_workdir(tmp_path)
    assert (tmp_path / "precious.txt").exists()
    own = tmp_path / "demo"
    demo.prepare_workdir(own)
    (own / "shards").mkdir()
    (own / "shards" / "stale.tar").write_bytes(b"x")
    (own / "notes.txt").write_text("mine")
    demo.prepare_workdir(own)
    assert not (own / "shards").exists()
    assert (own / "notes.txt").exists() and (own / demo.MARKER).exists()


def test_shard_counts():
    manifest = {"shards": [{}, {}], "objective": "nsp", "seq_len": 64,
                "counts": {"examples": 10, "examples/valid": 1, "examples/train": 9, "tokens": 500, "shards": 2}}
    assert demo.shard_counts(manifest) == {"shards": 2, "examples": 10, "splits": {"train": 9, "valid": 1},
                                           "objective": "nsp", "seq_len": 64}
    manifest["counts"].update({"examples/lang/en": 7, "examples/lang/fr": 3})
    assert demo.shard_counts(manifest) == {"shards": 2, "examples": 10, "splits": {"train": 9, "valid": 1},
                                           "objective": "nsp", "seq_len": 64, "languages": {"en": 7, "fr": 3}}


def test_format_summary():
    summary = {
        "workdir": "w", "documents": {"read": 10, "kept": 6, "dropped": {"duplicate": 3}, "rejected": {"not_html": 1}},
        "shards": {"shards": 2, "examples": 900, "splits": {"train": 880, "valid": 20}, "objective": "nsp",
                   "seq_len": 64, "languages": {"en": 600, "fr": 300}},
        "model": "bert", "steps": 5, "first_loss": 8.5, "last_loss": 7.25, "hf_dir": "w/run/hf",
        "learned": {"mlm_accuracy": [0.12, 0.06]},
        "fill_mask": {"sentence": "the [MASK] of x.", "predictions": [{"token": "town", "score": 0.5}],
                      "answer": {"token": "town", "score": 0.5}},
        "seconds": {"clean": 1.0, "train": 2.5},
    }
    assert demo.format_summary(summary) == (
        "\nshardlm demo: summary\n"
        "  documents: read 10, kept 6, dropped 3, rejected 1\n"
        "    dropped/duplicate: 3\n"
        "    rejected/not_html: 1\n"
        "  shards: 2 with 900 nsp examples (train 880, valid 20; seq_len 64, en 600, fr 300) in w/shards\n"
        "  training: bert-tiny, 5 steps, loss 8.5000 -> 7.2500\n"
        "  what it learned (held-out examples):\n"
        "    [MASK] accuracy 0.1200, always the most frequent token 0.0600: 2.00x\n"
        "  export: w/run/hf\n"
        "  fill-mask: the [MASK] of x.\n"
        "    'town': 0.5000\n"
        "    (the corpus has 'town' there: 0.5000)\n"
        "  seconds: clean 1.0, train 2.5\n")


@pytest.mark.slow
def test_demo_end_to_end(tmp_path, capsys):
    summary = demo.main(["--workdir", str(tmp_path / "demo"), "--steps", "5"])
    out = capsys.readouterr().out
    docs = summary["documents"]
    assert docs["read"] == docs["kept"] + sum(docs["dropped"].values()) + sum(docs["rejected"].values())
    assert docs["read"] >= 900  # 600 pages + 300 JSONL documents, plus planted records
    assert 0 < docs["kept"] < docs["read"]
    assert sum(docs["dropped"].values()) >= 3  # at least the planted exact duplicates
    assert summary["shards"]["objective"] == "nsp" and summary["shards"]["examples"] > 1000
    assert summary["steps"] == 5 and summary["model"] == "bert"
    assert set(summary["learned"]) == {"mlm_accuracy", "nsp_accuracy"}
    assert all(0 <= value <= 1 and 0 < base <= 1 for value, base in summary["learned"].values())
    assert summary["first_loss"] > 0 and summary["last_loss"] > 0
    assert Path(summary["hf_dir"], "config.json").exists()
    assert len(summary["fill_mask"]["predictions"]) == 3
    assert summary["fill_mask"]["answer"]["token"] == "town"
    assert 0 < summary["fill_mask"]["answer"]["score"] < 1
    assert "[MASK]" in summary["fill_mask"]["sentence"]
    assert "shardlm demo: summary" in out and f"export: {summary['hf_dir']}" in out


@pytest.fixture(scope="module")
def cleaned(tmp_path_factory):
    """The sample corpus's clean stage, run once for the module: (its documents folder, clean's result)."""
    work = tmp_path_factory.mktemp("cleaned")
    corpus = demo.sample_corpus.write(work / "corpus", demo.sample_corpus.CorpusConfig(seed=0))
    command, argv = demo.stage_argvs(demo.DemoConfig(workdir=work), corpus)["clean"]
    return work / "documents", demo._run_stage("clean", command, argv, {})


# What each model's demo prints it learned, and which folder its fill-mask loads.
LEARNED = {"albert": {"mlm_accuracy", "sop_accuracy"}, "xlm": {"mlm_accuracy"}, "xlmr": {"mlm_accuracy"},
           "electra": {"mlm_accuracy", "rtd_accuracy"}, "roberta": {"mlm_accuracy"},
           "distilbert": {"mlm_accuracy"}, "longformer": {"mlm_accuracy"}}


@pytest.mark.slow
@pytest.mark.parametrize("model", sorted(LEARNED))
def test_demo_of_each_model_end_to_end(model, cleaned, tmp_path, capsys, monkeypatch):
    """Every stage after clean runs for real (clean's output is the same for every model, and
    test_demo_end_to_end runs it): tokenizer, build, the first run where the plan has one, train,
    export, fill-mask, summary."""
    documents, result = cleaned
    run_stage = demo._run_stage

    def reuse_clean(name, command, argv, timings):
        if name != "clean":
            return run_stage(name, command, argv, timings)
        shutil.copytree(documents, argv[argv.index("--output") + 1])
        return result

    monkeypatch.setattr(demo, "_run_stage", reuse_clean)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    workdir = tmp_path / "demo"
    summary = demo.main(["--workdir", str(workdir), "--model", model, "--steps", "2"])
    out = capsys.readouterr().out
    plan = demo.PLANS[model]
    assert summary["model"] == model and summary["steps"] == 2
    assert summary["shards"]["objective"] == plan.objective and summary["shards"]["examples"] > 1000
    assert ("languages" in summary["shards"]) == plan.per_language
    assert set(summary["learned"]) == LEARNED[model]
    assert all(0 <= value <= 1 and 0 < base <= 1 for value, base in summary["learned"].values())
    if plan.first:  # the teacher / starting model trained first, and this run took it
        assert (workdir / "run-first" / "hf" / "config.json").exists()
    hf = Path(summary["hf_dir"]).parent / plan.export
    assert hf.is_dir() and (hf / "config.json").exists()
    fill = summary["fill_mask"]
    assert len(fill["predictions"]) == 3 and fill["answer"]["token"] == "town"
    assert 0 < fill["answer"]["score"] < 1
    assert f"{model}-tiny, 2 steps" in out and "what it learned (held-out examples):" in out
