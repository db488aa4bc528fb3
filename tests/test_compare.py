"""compare, run records, export reload, side-by-side generations, and the finetune/compare/generate CLI."""

from __future__ import annotations

import csv
import json

import pytest
import torch

from sclora.cli import main
from sclora.compare import compare, load_adapter, plan_runs, side_by_side
from sclora.data import load_examples
from sclora.errors import SCLoRAError
from sclora.models import model_checksum, tiny_model
from sclora.runs import METRIC_KEYS, RUN_FILES, read_run

torch.set_num_threads(1)  # see tests/test_train.py

FAST = dict(rank=2, steps=2, batch_size=4, max_samples=8, max_length=48, max_eval=2)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A math-like fine-tune set and a knowledge-like preserve set as JSONL files."""
    root = tmp_path_factory.mktemp("data")
    ft, pr = root / "ft.jsonl", root / "pr.jsonl"
    ft.write_text("".join(json.dumps({"prompt": f"What is {i} plus 2?", "response": f"The answer is {i + 2}."}) + "\n"
                          for i in range(20)))
    cities = ["Paris", "Rome", "Lima", "Oslo", "Cairo"]
    pr.write_text("".join(json.dumps({"question": f"Which city is number {i}?", "answer": cities[i % 5]}) + "\n"
                          for i in range(15)))
    return ft, pr


@pytest.fixture(scope="module")
def tiny():
    return tiny_model("tiny-llama")


@pytest.fixture(scope="module")
def compared(tiny, files, tmp_path_factory):
    """One comparison shared by several tests: every method family, two β, two learning rates."""
    model, tok = tiny
    out = tmp_path_factory.mktemp("compare")
    checksum = model_checksum(model)
    events = []
    result = compare(model, tok, load_examples(files[0]), load_examples(files[1]),
                     methods=["lora", "pissa", "corda-kpm", "sclora"], betas=[0.5, 0.9], lrs=[1e-3, 1e-2],
                     finetune_metric="math", preserve_metric="exact", out_dir=out, keep_models=True,
                     on_event=lambda kind, info: events.append(kind), model_name="tiny-llama", **FAST)
    return result, out, checksum, events


def test_compare_runs_every_method_beta_and_lr_and_leaves_the_base_untouched(tiny, compared):
    model, _ = tiny
    result, out, checksum, events = compared
    assert model_checksum(model) == checksum
    assert len(result.runs) == 2 * (3 + 2) and len(result.table) == len(result.runs)
    got = {(r.metrics["method"], r.metrics["beta"], r.metrics["lr"]) for r in result.runs}
    assert ("sclora", 0.9, 1e-2) in got and ("lora", None, 1e-3) in got
    assert events.count("run_done") == len(result.runs) and events.count("step") == 2 * len(result.runs)
    # Identical data, seed, steps and rank; "before" measured once on the base.
    for key in ("finetune_loss_before", "preserve_loss_before", "rank", "steps", "seed"):
        assert result.table[key].nunique() == 1
    assert result.table["finetune_loss_before"].iloc[0] == pytest.approx(result.before["finetune_loss"])
    assert result.table["on_front"].any()
    with open(out / "summary.csv") as f:
        assert len(list(csv.DictReader(f))) == len(result.runs)


def test_compare_collects_statistics_once_for_all_betas(tiny, files, monkeypatch):
    import sclora.statistics

    model, tok = tiny
    calls = []
    real = sclora.statistics.collect_statistics
    monkeypatch.setattr(sclora.statistics, "collect_statistics", lambda *a, **k: calls.append(1) or real(*a, **k))
    result = compare(model, tok, load_examples(files[0]), load_examples(files[1]), methods=["sclora"],
                     betas=[0.0, 0.5, 1.0], **{**FAST, "steps": 0, "max_eval": 1})
    assert len(calls) == 1 and len(result.runs) == 3


def test_run_record_is_complete(compared):
    result, out, _, _ = compared
    run = out / "sclora-beta0.9-lr1e-02"
    for name in RUN_FILES:
        assert (run / name).is_file(), name
    assert (run / "adapter" / "adapter_config.json").is_file()
    config = json.loads((run / "config.json").read_text())
    assert config["model"] == "tiny-llama" and config["seed"] == 0 and config["beta"] == 0.9
    assert set(config["versions"]) >= {"torch", "transformers", "peft"}
    assert all(len(fp) == 64 for fp in config["data"]["fingerprints"].values())
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(METRIC_KEYS) <= set(metrics)
    assert metrics["finetune_accuracy_after"] is not None and metrics["preserve_accuracy_after"] is not None
    with open(run / "loss.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == [1, 2] and all(float(r["lr"]) > 0 for r in rows)
    gens = [json.loads(line) for line in (run / "generations.jsonl").read_text().splitlines()]
    assert {g["set"] for g in gens} == {"before:finetune", "before:preserve", "finetune", "preserve"}
    back = read_run(run)
    assert back.metrics == metrics and len(back.loss_rows) == 2


@pytest.mark.parametrize("name", ["sclora-beta0.5-lr1e-02", "pissa-lr1e-02", "lora-lr1e-02"])
def test_exported_adapter_reloads_to_the_trained_model(tiny, compared, name):
    model, _ = tiny
    result, out, checksum, _ = compared
    trained = next(r.model for r in result.runs if r.path.name == name)
    reloaded = load_adapter(model, out / name)
    ids = torch.tensor([[5, 70, 80, 90, 100, 110, 120]])
    with torch.no_grad():
        a, b, base = trained(input_ids=ids).logits, reloaded(input_ids=ids).logits, model(input_ids=ids).logits
    assert torch.allclose(a, b, atol=1e-5)
    assert not torch.allclose(a, base, atol=1e-4)  # training did change the model
    assert model_checksum(model) == checksum


def test_side_by_side_has_a_column_per_model(tiny, compared):
    model, tok = tiny
    result, out, _, _ = compared
    live = next(r.model for r in result.runs if r.path.name == "pissa-lr1e-02")
    table = side_by_side(model, tok, {"pissa": live, "folder": out / "pissa-lr1e-02"}, ["Hi", "What is 2 plus 2?"],
                         max_new_tokens=4)
    assert list(table.columns) == ["prompt", "base", "pissa", "folder"] and len(table) == 2
    assert table["pissa"].tolist() == table["folder"].tolist()  # the export answers like the live model


def test_compare_stops_cleanly(tiny, files):
    model, tok = tiny
    done = []
    result = compare(model, tok, load_examples(files[0]), load_examples(files[1]), methods=["lora", "pissa"],
                     on_event=lambda kind, info: done.append(kind) if kind == "run_done" else None,
                     should_stop=lambda: len(done) >= 1, **{**FAST, "max_eval": 1})
    assert result.stopped and len(result.runs) == 1


@pytest.mark.parametrize("args, message", [
    ((["dora"], [0.5], [1e-3]), "Unknown method 'dora'"),
    ((["sclora"], [1.2], [1e-3]), "'beta' must be a number between 0 and 1"),
    ((["lora"], [], [0.0]), "'lr' (learning rate) must be a finite number > 0"),
    ((["lora", "lora"], [], [1e-3]), "lists a method twice"),
    (([], [], [1e-3]), "'methods' is empty"),
    ((["lora"], [], [1e-3, 1e-3]), "list a value twice"),
])
def test_plan_validation(args, message):
    with pytest.raises(SCLoRAError) as err:
        plan_runs(*args)
    assert message in str(err.value)


def test_plan_gives_lora_its_factor_of_every_learning_rate():
    plan = plan_runs(["lora", "pissa", "sclora"], [0.9], [1e-4, 2e-4], lora_lr_factor=10)
    assert plan == [("lora", None, 1e-3), ("lora", None, 2e-3), ("pissa", None, 1e-4), ("pissa", None, 2e-4),
                    ("sclora", 0.9, 1e-4), ("sclora", 0.9, 2e-4)]
    with pytest.raises(SCLoRAError, match="LoRA learning-rate factor must be a number > 0"):
        plan_runs(["lora"], [], [1e-4], lora_lr_factor=0)


def test_answer_changes_list_what_a_run_forgot_and_learned():
    from sclora.runs import RunRecord, answer_changes

    def row(set_, prompt, answer, correct):
        return {"set": set_, "prompt": prompt, "reference": "ref " + prompt, "answer": answer, "correct": correct}

    record = RunRecord(config={}, metrics={}, generations=[
        row("before:finetune", "2+2", "five", False), row("before:finetune", "3+3", "six", True),
        row("before:preserve", "capital", "Paris", True), row("before:preserve", "legs", "six", False),
        row("finetune", "2+2", "four", True), row("finetune", "3+3", "six", True),
        row("preserve", "capital", "Lyon", False), row("preserve", "legs", "eight", True)])
    assert answer_changes(record) == [
        {"change": "learned", "set": "finetune", "prompt": "2+2", "reference": "ref 2+2", "before": "five",
         "after": "four"},
        {"change": "forgotten", "set": "preserve", "prompt": "capital", "reference": "ref capital", "before": "Paris",
         "after": "Lyon"}]


def test_the_bundled_knowledge_set_has_a_multiple_choice_for_every_held_out_question(tiny):
    from sclora.compare import prepare_data
    from sclora.data import bundled_dataset

    _, tok = tiny
    data = prepare_data(bundled_dataset("math"), bundled_dataset("knowledge"), tok, max_samples=4, max_length=64)
    assert data.preserve_choices is not None and len(data.preserve_choices) == len(data.preserve_heldout)
    first = data.preserve_heldout.records[0]
    assert data.preserve_choices[0][0] == first["response"] and len(data.preserve_choices[0]) == 4
    assert prepare_data(bundled_dataset("knowledge"), bundled_dataset("safety"), tok, max_samples=4,
                        max_length=64).preserve_choices is None  # safety has no choices


# --------------------------------------------------------------------------- CLI


def _cli(files, out, *extra):
    return ["finetune", "--model", "tiny-llama", "--finetune", str(files[0]), "--preserve", str(files[1]),
            "--rank", "2", "--max-samples", "8", "--max-length", "48", "--max-eval", "1", "--out", str(out), *extra]


def test_cli_steps_zero_gives_an_adapter_that_answers_like_the_base(tiny, files, tmp_path):
    model, _ = tiny
    assert main(_cli(files, tmp_path / "run", "--steps", "0", "--method", "sclora", "--beta", "0.9")) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["steps"] == 0 and metrics["finetune_loss_after"] == pytest.approx(metrics["finetune_loss_before"],
                                                                                    abs=1e-5)
    reloaded = load_adapter(model, tmp_path / "run")
    ids = torch.tensor([[5, 70, 80, 90, 100]])
    with torch.no_grad():
        assert torch.allclose(reloaded(input_ids=ids).logits, model(input_ids=ids).logits, atol=1e-5)


def test_cli_compare_and_generate(files, tmp_path):
    out = tmp_path / "cmp"
    argv = ["compare", "--model", "tiny-llama", "--finetune", str(files[0]), "--preserve", str(files[1]),
            "--methods", "lora,sclora", "--betas", "0.5", "--lrs", "1e-3,1e-2", "--lora-lr-factor", "10", "--rank",
            "2", "--steps", "1", "--max-samples", "8", "--max-length", "48", "--max-eval", "1", "--out", str(out)]
    assert main(argv) == 0
    with open(out / "summary.csv") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["label"] for r in rows) == ["lora lr=1e-01", "lora lr=1e-02", "sclora β=0.5 lr=1e-02",
                                                "sclora β=0.5 lr=1e-03"]  # LoRA at 10x each rate
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("What is 2 plus 2?\n\nName a city.\n")
    gen = tmp_path / "gen.jsonl"
    assert main(["generate", "--model", "tiny-llama", "--adapter", str(out / "lora-lr1e-02"), "--adapter",
                 str(out / "sclora-beta0.5-lr1e-03" / "adapter"), "--prompts", str(prompts), "--out", str(gen),
                 "--max-new-tokens", "3"]) == 0
    rows = [json.loads(line) for line in gen.read_text().splitlines()]
    assert [r["prompt"] for r in rows] == ["What is 2 plus 2?", "Name a city."]
    assert set(rows[0]) == {"prompt", "base", "lora-lr1e-02", "sclora-beta0.5-lr1e-03"}


@pytest.mark.parametrize("extra, message", [
    (["--steps", "-1"], "--steps must be >= 0"),
    (["--lr", "0"], "--lr/--lrs must be finite and > 0"),
    (["--lr", "nan"], "--lr/--lrs must be finite and > 0"),
    (["--batch-size", "0"], "--batch-size must be >= 1"),
    (["--beta", "1.5"], "--beta/--betas must be between 0 and 1"),
    (["--rank", "0"], "--rank must be >= 1"),
    (["--method", "dora"], "Unknown method 'dora'"),
])
def test_cli_rejects_bad_parameters_with_exit_2(files, tmp_path, capsys, extra, message):
    assert main(_cli(files, tmp_path / "run", *extra)) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "run").exists()


def test_cli_missing_data_file(files, tmp_path, capsys):
    argv = _cli(files, tmp_path / "run")
    argv[argv.index("--finetune") + 1] = str(tmp_path / "nope.jsonl")
    assert main(argv) == 2
    assert "is neither a file nor a bundled dataset" in capsys.readouterr().err
