"""The benchmark scripts run end to end on a tiny model and write what the README and docs quote."""

from __future__ import annotations

import json
import shutil

import pytest

pytestmark = pytest.mark.filterwarnings("ignore")


def _science_argv(out, seeds="0"):
    return ["--model", "tiny-llama", "--seeds", seeds, "--betas", "0,0.9", "--lrs-lora", "1e-3,3e-3",
            "--lrs-residual", "1e-4,1e-3", "--eval-prompts", "5", "--preserve-samples", "4", "--insample", "3",
            "--safety-eval", "2", "--steps", "1", "--out", str(out)]


def test_science_protocol_contract_report_and_resume(tmp_path):
    from benchmarks.science.__main__ import main
    from benchmarks.science.report import END, START

    out = tmp_path / "results.md"
    argv = _science_argv(out)
    assert main(argv) == 0
    raw = json.loads(out.with_suffix(".json").read_text())
    settings = raw["settings"]
    assert settings["seeds"] == [0] and settings["eval_prompts"] == 5 and settings["preserve_samples"] == [4]
    assert settings["learning_rates"] == [1e-4, 1e-3, 3e-3]
    # LoRA, PiSSA, SC-LoRA β=0 (no C−), then CorDA-KPM and SC-LoRA β=0.9 with C− from knowledge and from refusals.
    assert len(raw["rows"]) == 7 * 2
    assert all({"method", "beta", "lr", "seed", "split_seed"} <= set(r) for r in raw["rows"])
    assert {r["cminus"] for r in raw["rows"]} == {None, "knowledge-4", "safety-128"}
    row = raw["rows"][0]
    assert len(row["mc_heldout"]) == 5 and len(row["mc_insample"]) == 3 and len(row["refusal_heldout"]) == 2
    assert {"claim", "verdict", "difference", "ci_low", "ci_high"} <= set(raw["verdicts"][0])
    assert {v["verdict"] for v in raw["verdicts"]} <= {"holds", "does not hold", "inconclusive"}
    assert len(raw["verdicts"]) == 7  # no N− = 1,024 claim with one N−
    text = out.read_text()
    assert "python -m benchmarks.science " + " ".join(argv[:-2]) + "\n" in text  # the command, without --out
    assert "## Verdicts" in text and "finished: 14 of 14 runs" in text and "not measured here" in text
    assert "from `results.json`" in text
    # Each knowledge claim read again on generation accuracy and the answer-token loss, outside the verdicts.
    other = json.loads(out.with_suffix(".json").read_text())["other_metrics"]
    assert sorted({v["metric"] for v in other}) == ["answer_loss", "generation"] and len(other) == 2 * 5
    assert text.count("| generation accuracy |") == text.count("| answer-token loss |") == 5
    # The budget: every phase with its runs, and no projection once the plan is finished.
    assert "| knowledge-small | 10 of 10 |" in text and "| safety | 4 of 4 |" in text
    assert "| knowledge-larger |" not in text and "14 of 14 runs finished." in text
    assert str(tmp_path) not in out.with_suffix(".json").read_text() and str(tmp_path) not in text
    if shutil.which("chromium"):  # installed by .ci/run
        assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG" and "results.png" in text
    assert "plotly" in out.with_suffix(".html").read_text()

    # Re-rendered from the JSON alone, with the hand-written discussion appended.
    (tmp_path / "results-discussion.md").write_text("The hand-written part.\n")
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\n{START}\nstale block\n{END}\n\nAfter.\n")
    assert main(["--report-only", "--out", str(out), "--readme", str(readme)]) == 0
    block = readme.read_text()
    assert "stale block" not in block and block.startswith("# Title\n") and block.endswith("\n\nAfter.\n")
    assert "| claim | verdict | difference [95 % CI] |" in block and block.count("| **") == 7
    assert "| claim | generation accuracy | answer-token loss |" in block and "14 of 14 runs" in block
    rendered = out.read_text()
    assert "The hand-written part." in rendered and rendered.replace(
        rendered[rendered.index("## Discussion"):rendered.index("The hand-written part.")], "") != text

    # Resumable: only the runs missing from the JSON run again; the others stay as they were.
    kept = raw["rows"][:-1]
    raw["rows"] = kept
    out.with_suffix(".json").write_text(json.dumps(raw))
    assert main(["--report-only", "--out", str(out)]) == 0
    assert "13 of 14 runs finished, so the whole plan at the mean rate so far" in out.read_text()
    assert main(argv) == 0
    again = json.loads(out.with_suffix(".json").read_text())["rows"]
    assert again[:-1] == kept and len(again) == 14
    moved = json.loads(out.with_suffix(".json").read_text())
    out.with_suffix(".json").write_text(json.dumps({**moved, "rows": moved["rows"][:-1],
                                                    "device": "GPU (NVIDIA H100 80GB HBM3)"}))
    with pytest.raises(SystemExit, match="made on GPU"):  # rows of one device are never resumed on another
        main(argv)
    out.with_suffix(".json").write_text(json.dumps(moved))
    with pytest.raises(SystemExit, match="other settings"):
        main(_science_argv(out, seeds="0,1"))


def test_science_matched_learning_and_bootstrap():
    import numpy as np

    from benchmarks.science.analysis import bootstrap, common_target, matched, verdict

    def run(lr, loss, value):
        return {"lr": lr, "finetune_loss_sums": [loss * 10], "finetune_tokens": [10], "v": np.array([value, value])}

    runs = [run(1e-4, 0.9, 0.0), run(3e-4, 0.5, -0.2), run(1e-3, 0.3, -0.4)]
    assert matched(runs, 0.7, lambda r: r["v"]) == pytest.approx([-0.1, -0.1])  # halfway between 0.9 and 0.5
    assert matched(runs, 0.4, lambda r: r["v"]) == pytest.approx([-0.3, -0.3])
    assert matched(runs, 0.2, lambda r: r["v"]) is None  # never extrapolated
    other = [[run(1e-3, 0.8, 0), run(3e-3, 0.4, 0)]]
    assert common_target([[runs], other]) == pytest.approx(0.6)  # middle of the overlap [0.4, 0.8]
    assert common_target([[runs], [[], []], other]) == pytest.approx(0.6)  # a method not run yet is left out
    assert common_target([[runs], [[run(1e-3, 0.2, 0), run(3e-3, 0.1, 0)]]]) is None
    same = {s: np.full((1, 50), 0.25) for s in range(3)}
    assert bootstrap(same, lambda m: m[0].mean()) == pytest.approx((0.25, 0.25, 0.25))
    noisy = {s: np.random.default_rng(s).normal(0.1, 1.0, (1, 200)) for s in range(3)}
    point, low, high = bootstrap(noisy, lambda m: m[0].mean())
    assert low < point < high and low < 0.1 < high
    assert (verdict(0.01, 0.2), verdict(-0.2, -0.01), verdict(-0.1, 0.1)) == ("holds", "does not hold", "inconclusive")


def test_walkthrough_times_every_tab_step(tmp_path):
    from benchmarks import walkthrough

    out = tmp_path / "w.json"
    assert walkthrough.main(["--model", "tiny-llama", "--samples", "8", "--steps", "1", "--max-eval", "1",
                             "--methods", "lora,sclora", "--out", str(out)]) == 0
    steps = dict(json.loads(out.read_text())["steps"])
    assert len(steps) == 12 and all(s >= 0 for s in steps.values())
    assert any(k.startswith("tab 3: the β grid") for k in steps)
    assert any(k.startswith("tab 3: β slider") for k in steps) and any("fine-tune sclora" in k for k in steps)


# ---------------------------------------------------------------------------- benchmarks.run / measure / report


def test_interleaved_runs_a_b_a_b_and_keeps_every_time():
    from benchmarks.measure import interleaved

    order, fake = [], iter(range(1, 100))
    out = interleaved({"a": lambda: "a", "b": lambda: "b"}, 3, clock=lambda fn: float(next(fake)), order=order)
    assert order == ["a", "b", "a", "b", "a", "b"]
    assert out["a"] == {"times_s": [1.0, 3.0, 5.0], "median_s": 3.0, "min_s": 1.0}
    assert out["b"] == {"times_s": [2.0, 4.0, 6.0], "median_s": 4.0, "min_s": 2.0}
    with pytest.raises(ValueError, match="at least|>= 3"):
        interleaved({"a": lambda: None}, 2)


def _timing(*times):
    from benchmarks.measure import summary

    return summary(list(times))


def test_composite_faster_than_its_part_is_measured_again_then_flagged():
    from benchmarks.measure import check_part

    calls = []

    def still_faster():
        calls.append(1)
        return {"covariance": _timing(1.0, 1.1, 1.2), "forward": _timing(2.0, 2.0, 2.0)}

    results = {"covariance": _timing(1.0, 1.0, 1.0), "forward": _timing(2.0, 2.1, 2.2)}
    check = check_part(results, "covariance", "forward", remeasure=still_faster)
    assert calls == [1] and check["remeasured"] and check["flagged"]
    assert results["covariance"]["first_times_s"] == [1.0, 1.0, 1.0]  # the spoiled first times stay on record

    results = {"covariance": _timing(1.0, 1.0, 1.0), "forward": _timing(2.0, 2.1, 2.2)}
    fixed = lambda: {"covariance": _timing(2.5, 2.6, 2.7), "forward": _timing(2.0, 2.0, 2.0)}  # noqa: E731
    check = check_part(results, "covariance", "forward", remeasure=fixed)
    assert check["remeasured"] and not check["flagged"] and results["covariance"]["median_s"] == 2.6

    results = {"covariance": _timing(3.0, 3.0, 3.0), "forward": _timing(2.0, 2.0, 2.0)}
    check = check_part(results, "covariance", "forward", remeasure=still_faster)
    assert not check["remeasured"] and not check["flagged"] and len(calls) == 1  # a sane run is not re-measured

    # Within the tolerance (timing noise on a composite that adds little work): neither re-measured nor flagged.
    results = {"covariance": _timing(1.99, 1.99, 1.99), "forward": _timing(2.0, 2.0, 2.0)}
    check = check_part(results, "covariance", "forward", remeasure=still_faster, tolerance=0.02)
    assert not check["remeasured"] and not check["flagged"] and len(calls) == 1


def test_readme_block_rewrite_replaces_only_the_marked_part():
    from benchmarks.report import END, START, rewrite_block

    text = f"# Title\n\nbefore\n{START}\nold | 1.0 s\n{END}\nafter\n"
    new = rewrite_block(text, f"{START}\nnew\n{END}")
    assert new == f"# Title\n\nbefore\n{START}\nnew\n{END}\nafter\n"
    with pytest.raises(ValueError, match="no .* block"):
        rewrite_block("# no markers\n", f"{START}\nx\n{END}")


def test_readme_figures_are_the_rendering_of_results_json():
    """The block of docs/benchmarks.md is exactly what the renderer makes of the committed benchmarks/results.json."""
    from benchmarks.report import ROOT, load, readme_block

    block = readme_block(load(ROOT / "benchmarks" / "results.json"))
    assert block in (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")


def test_quick_run_records_raw_times_machine_versions_and_rewrites_the_readme_block(tmp_path):
    from benchmarks import run
    from benchmarks.report import END, START

    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{START}\nhand-typed 1.02×\n{END}\noutro\n")
    out = tmp_path / "bench"
    assert run.main(["--quick", "--out", str(out), "--readme", str(readme)]) == 0
    res = json.loads((out / "results.json").read_text())
    assert res["schema"] == run.SCHEMA and res["command"].startswith("python -m benchmarks.run --quick")
    assert {"cpu", "cores", "gpu", "torch_threads", "python"} <= set(res["machine"])
    assert {"torch", "transformers", "peft", "gradio", "plotly", "pandas"} <= set(res["versions"])
    assert res["date"][:2] == "20" and len(res["git"]["commit"] or "0" * 40) == 40
    ms = res["measurements"]
    assert set(ms) == set(run.MEASUREMENTS) - set(run.QUICK_SKIPS)
    for name in ("covariance", "sweep", "inits", "train", "corda"):
        for timing in ms[name]["times"].values():
            assert len(timing["times_s"]) == 3 and timing["min_s"] <= timing["median_s"]
            assert timing["median_s"] == sorted(timing["times_s"])[1]
    assert [c["part"] for c in ms["covariance"]["checks"]] == ["forward"]
    assert ms["covariance"]["stored_statistics_mib"] > 0 and ms["memory"]["sessions"] == 2
    # Within float32's reach: the same order of size as PEFT's own pass with the samples reversed.
    ours, order = ms["corda"]["relative_difference"], ms["corda"]["order_difference"]
    assert ours["median"] <= ours["largest"] < max(10 * order["largest"], 1e-5)
    assert len(ms["walkthrough"]["steps"]) == 12
    assert ms["memory"]["after_cache_cleared_mib"] > 0 and ms["memory"]["with_shared_sessions_mib"] > 0
    assert "the β tab's sweep" in (out / "results.md").read_text()
    md = (out / "results.md").read_text()
    assert "covariance pass vs plain forward" in md and "AMD" in md or res["machine"]["cpu"] in md
    text = readme.read_text()
    assert text.startswith("intro\n" + START) and text.endswith(END + "\noutro\n") and "hand-typed" not in text
    assert "covariance pass vs plain forward" in text and "walkthrough" in text
    assert str(tmp_path) not in text and str(tmp_path) not in md

    # --only measures a part again and keeps the others (same settings, machine and versions).
    assert run.main(["--quick", "--only", "scaling", "--out", str(out), "--readme", ""]) == 0
    again = json.loads((out / "results.json").read_text())
    assert set(again["measurements"]) == set(ms)
    assert again["measurements"]["scaling"]["date"] >= ms["scaling"]["date"]
    assert len(again["commands"]) == 2


def test_flagged_run_is_marked_in_report_and_readme():
    from benchmarks.report import markdown, readme_block

    res = {"schema": 2, "command": "python -m benchmarks.run", "date": "2030-01-01T00:00:00+00:00", "duration_s": 60,
           "git": {"commit": "a" * 40, "dirty": False},
           "machine": {"cpu": "Some CPU", "cores": 2, "torch_threads": 2, "gpu": None, "python": "3.11"},
           "versions": {"torch": "2"}, "settings": {"model": "m", "samples": 4, "finetune": "f", "preserve": "p",
                                                   "max_length": 8, "rank": 2, "batch_size": 2, "repeats": 3},
           "measurements": {"covariance": {
               "times": {"covariance": _timing(1, 1, 1), "forward": _timing(2, 2, 2)}, "samples": [4, 4],
               "stored_statistics_mib": 1.0, "all_output_covariances_mib": 4.0,
               "checks": [{"composite": "covariance", "part": "forward", "remeasured": True, "flagged": True,
                           "composite_median_s": 1.0, "part_median_s": 2.0}]}}}
    for text in (markdown(res), readme_block(res)):
        assert "**Flagged:** `covariance`" in text and "covariance pass vs plain forward, same batches ⚠" in text
    assert "Some CPU, 2 cores" in readme_block(res) and "no GPU" in readme_block(res)


def test_report_names_the_run_of_each_merged_measurement():
    from benchmarks.report import markdown, readme_block

    def measured(day, commit, dirty):
        return {"date": f"2030-01-0{day}T00:00:00+00:00", "git": {"commit": commit * 40, "dirty": dirty}}

    res = {"schema": 2, "command": "python -m benchmarks.run --only app", "date": "2030-01-02T00:00:00+00:00",
           "commands": ["python -m benchmarks.run", "python -m benchmarks.run --only app"], "duration_s": 60,
           "git": {"commit": "b" * 40, "dirty": True},
           "machine": {"cpu": "Some CPU", "cores": 2, "torch_threads": 2, "gpu": None, "python": "3.11"},
           "versions": {"torch": "2"}, "settings": {"model": "m", "samples": 4, "finetune": "f", "preserve": "p",
                                                   "max_length": 8, "rank": 2, "batch_size": 2, "repeats": 3},
           "measurements": {
               "train": {"times": {"sclora_step": _timing(1, 1, 1), "lora_step": _timing(1, 1, 1)},
                         **measured(1, "a", False)},
               "app": {"times": {"warm_cache": _timing(3, 3, 3), "cold_cache": _timing(9, 9, 9)}, **measured(2, "b", True)}}}
    for text in (markdown(res), readme_block(res)):
        assert "train: 2030-01-01, commit aaaaaaaaaaaa;" in text
        assert "app: 2030-01-02, commit bbbbbbbbbbbb with uncommitted changes" in text
        assert "`python -m benchmarks.run`, `python -m benchmarks.run --only app`" in text


def test_workshop_runs_sessions_against_a_fresh_server_and_merges_scenarios(tmp_path):
    from benchmarks import workshop

    out = tmp_path / "workshop.json"
    tiny = ["--model", "tiny-llama", "--records", "20", "--samples", "8", "--out", str(out)]
    workshop.main(["--scenario", "alone", *tiny])
    workshop.main(["--scenario", "room", "--sessions", "3", *tiny])
    data = json.loads(out.read_text())
    assert [(s["scenario"], s["sessions"]) for s in data["scenarios"]] == [("alone", 1), ("room", 3)]
    room = data["scenarios"][1]
    assert len(room["per_session"]) == 3
    for session in room["per_session"]:
        assert 0 < session["connect_s"] and 0 < session["load_s"] and 0 < session["covariances_s"]
        assert session["covariances_s"] + session["tradeoff_s"] < session["beta_tab_at_s"] <= room["wall_s"]
    assert room["last_beta_tab_s"] == max(s["beta_tab_at_s"] for s in room["per_session"])
    assert room["machine"]["cores"] >= 1 and room["git"]["commit"] and room["server_ready_s"] > 0
    (ratio,) = data["ratios"]
    assert ratio["sessions"] == 3 and ratio["ratio"] == pytest.approx(room["last_beta_tab_s"] / ratio["alone_s"])
    workshop.main(["--scenario", "room", "--sessions", "3", *tiny])  # measured again: replaced, not added
    assert len(json.loads(out.read_text())["scenarios"]) == 2


def test_science_command_line_leaves_out_where_files_go():
    from benchmarks.science.plan import recipe

    argv = ["--seeds", "0", "--out", "/somewhere/r.md", "--readme=", "--readme", "", "--out=x.md", "--steps", "3"]
    assert recipe(argv) == ["--seeds", "0", "--steps", "3"]


def _calibration_raw(points_by_lr: dict, before_mc=(1, 1, 1, 1), before_loss=3.0, min_drop=0.05) -> dict:
    """A calibration's JSON: one run per lr, each checkpoint (step, MC right per question, fine-tune loss)."""
    def scored(mc, loss):
        return {"mc_heldout": list(mc), "finetune_loss_sums": [loss * 10], "finetune_tokens": [10]}

    return {"settings": {"finetunes": ["math"], "lrs": sorted(points_by_lr), "checkpoints": [10, 20, 40],
                         "min_drop": min_drop, "seed": 0},
            "before": {"math": scored(before_mc, before_loss)},
            "runs": [{"finetune": "math", "lr": lr, "unstable": None, "train_losses": [],
                      "points": [{"step": s, "train_loss": loss, **scored(mc, loss)} for s, mc, loss in points]}
                     for lr, points in points_by_lr.items()]}


def test_regime_is_the_cheapest_checkpoint_that_forgets_while_learning():
    from benchmarks.science.regime import choose_regime, curves, regime_lrs

    raw = _calibration_raw({
        1e-3: [(10, (1, 1, 1, 1), 2.9), (20, (1, 1, 1, 0), 2.8), (40, (1, 1, 0, 0), 2.7)],
        1e-2: [(10, (1, 1, 1, 1), 2.5), (20, (1, 1, 0, 0), 2.6), (40, (1, 0, 0, 0), 2.2)],  # 20: loss rose
    })
    points = curves(raw)
    assert [p["loss_falling"] for p in points] == [True, True, True, True, False, True]
    assert points[1]["mc_drop"] == pytest.approx(0.25) and points[1]["ci_low"] <= 0.25 <= points[1]["ci_high"]
    regime = choose_regime(raw)  # lr 1e-2 at step 20 drops more but its loss rose: lr 1e-3 at 20 is the cheapest
    assert (regime["lr"], regime["steps"], regime["met"]) == (1e-3, 20, True)
    raw["settings"]["min_drop"] = 0.8  # nobody loses 80 points: the setting that forgets most, flagged
    regime = choose_regime(raw)
    assert (regime["lr"], regime["steps"], regime["met"]) == (1e-2, 40, False)
    assert regime_lrs(3e-3) == {"lora": [3e-4, 9e-4, 3e-3], "residual": [3e-5, 9e-5, 3e-4]}


def test_regime_command_calibrates_resumes_and_runs_the_verdicts_there(tmp_path):
    from benchmarks.science.regime import END, START, main

    cal, ver, readme = tmp_path / "forgetting-regime.md", tmp_path / "results-regime.md", tmp_path / "README.md"
    readme.write_text(f"# Title\n\n{START}\nstale\n{END}\n")
    argv = ["--model", "tiny-llama", "--finetunes", "math,pirate", "--lrs", "1e-3,1e-1", "--checkpoints", "1,2",
            "--eval-prompts", "4", "--min-drop", "0", "--out", str(cal), "--verdicts-out", str(ver),
            "--readme", str(readme),
            "--verdict-args", "--seeds 0 --betas 0.9 --eval-prompts 4 --preserve-samples 3 --insample 2"]
    assert main(argv) == 0
    raw = json.loads(cal.with_suffix(".json").read_text())
    assert [(r["finetune"], r["lr"]) for r in raw["runs"]] == [("math", 1e-3), ("math", 0.1), ("pirate", 1e-3),
                                                               ("pirate", 0.1)]
    assert all([p["step"] for p in r["points"]] == [1, 2] or r["unstable"] for r in raw["runs"])
    assert {"finetune", "lr", "steps", "mc_drop", "ci_low", "ci_high", "met"} <= set(raw["regime"])
    assert len(raw["curves"]) == sum(len(r["points"]) for r in raw["runs"])
    text = cal.read_text()
    assert "## The regime" in text and "| lr | steps | MC accuracy |" in text and str(tmp_path) not in text

    verdicts = json.loads(ver.with_suffix(".json").read_text())
    regime = verdicts["regime"]
    assert (regime["finetune"], regime["steps"]) == (raw["regime"]["finetune"], raw["regime"]["steps"])
    assert regime["lr_range"]["lora"][-1] == raw["regime"]["lr"] and regime["lora_mc_drop"]["seeds"] == [0]
    assert verdicts["settings"]["phases"] == ["knowledge-small"]
    assert {r["cminus"] for r in verdicts["rows"]} == {None, "knowledge-3"}  # no safety, no larger N−
    assert all("refusal_heldout" not in r for r in verdicts["rows"])
    # LoRA, PiSSA, CorDA-KPM, CorDA-KPM on C−'s own samples, and speed (LoRA's 0.1 and the residual 0.01 meet).
    assert len(verdicts["verdicts"]) == 5 and "## The regime" in ver.read_text()
    assert "harmful prompts" not in ver.read_text()  # no safety phase, so no safety prompts named
    # The README's block: the regime with LoRA's drop beside the verdicts, its links from the README's folder.
    block = readme.read_text()
    assert "stale" not in block and "[docs/forgetting-regime.md](docs/forgetting-regime.md)" in block
    assert "LoRA at lr" in block and block.count("| **") == 5 and "python -m benchmarks.science.regime" in block
    assert "docs/results-regime.json" in block and "[docs/results-regime.md](docs/results-regime.md)" in block

    # Both reports come back byte for byte from their JSON; finished runs are never run again.
    reports = cal.read_text(), ver.read_text(), block
    assert main(["--report-only", "--out", str(cal), "--verdicts-out", str(ver), "--readme", str(readme)]) == 0
    assert (cal.read_text(), ver.read_text(), readme.read_text()) == reports
    kept = raw["runs"][:-1]
    cal.with_suffix(".json").write_text(json.dumps({**raw, "runs": kept}))
    assert main([*argv, "--calibrate-only"]) == 0
    again = json.loads(cal.with_suffix(".json").read_text())["runs"]
    assert again[:-1] == kept and len(again) == 4


def test_scaling_measures_each_point_in_its_own_process_and_renders_the_goals(tmp_path):
    from benchmarks.scaling import main, plan, point_key
    from benchmarks.scaling_report import AXES, exponent, markdown, ratios

    out, page = tmp_path / "scaling.json", tmp_path / "scaling.md"
    argv = ["--quick", "--axes", "samples,depth", "--out", str(out), "--page", str(page)]
    assert main(argv) == 0
    raw = json.loads(out.read_text())
    assert [p["axis"] for p in raw["points"]] == ["samples", "samples", "depth", "depth"]
    shared = [p for p in raw["points"] if point_key(p) == point_key(plan(True)[0])]
    assert len(shared) == 2 and shared[0]["times"] == shared[1]["times"]  # measured once, read by both axes
    for p in raw["points"]:
        assert {"forward", "covariance", "sweep", "corda_kpm_init", "lora_step", "sclora_step"} <= set(p["times"])
        assert p["memory"]["statistics_mib"] > 0 and p["predicted"]["seconds"] > 0 and p["first_pass_s"] > 0
        assert p["predicted"]["statistics_mib"] == pytest.approx(p["memory"]["statistics_mib"])
        assert set(ratios(p)) == {"covariance_vs_forward", "init_vs_corda", "step_vs_lora", "time_prediction",
                                  "memory_prediction"}
    text = page.read_text()
    assert "## Fitted exponents" in text and "**samples per set N**" in text and "**layers**" in text
    assert "**hidden size**" not in text and str(tmp_path) not in text
    assert text.count("| 4 | ") >= 1 and "predicted / measured time" in text
    # Resumable: measured points are kept, and the page comes back from the JSON alone.
    assert main(argv) == 0 and json.loads(out.read_text())["points"] == raw["points"]
    assert main([*argv, "--report-only"]) == 0 and page.read_text() == text
    assert exponent([1, 2, 4], [3, 12, 48]) == pytest.approx(2.0) and exponent([1], [1]) is None
    # A point where PEFT's CorDA-KPM could not run says so instead of a ratio.
    del raw["points"][-1]["times"]["corda_kpm_init"]
    assert "not run (out of memory in PEFT)" in markdown(raw, None) and "ran this machine out of memory" in \
        markdown(raw, None)
    assert set(AXES) == {"samples", "length", "width", "depth"}
