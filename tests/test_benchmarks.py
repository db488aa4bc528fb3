"""The benchmark scripts run end to end on a tiny model and write what the README and docs quote."""

from __future__ import annotations

import json
import shutil

import pytest

pytestmark = pytest.mark.filterwarnings("ignore")


def _science_argv(out, seeds="0,1", lr="1e-3"):
    return ["--model", "tiny-llama", "--methods", "lora,sclora", "--betas", "0.5", "--lrs", lr, "--seeds", seeds,
            "--steps", "1", "--max-samples", "8", "--max-eval", "1", "--cost-steps", "0", "--out", str(out)]


def test_science_report_figure_rerender_and_merge(tmp_path):
    from benchmarks import science

    out = tmp_path / "results.md"
    argv = _science_argv(out)
    assert science.main(argv) == 0
    text = out.read_text()
    assert "| lora |  | 0.001 | 2 |" in text and "| sclora | 0.5 | 0.001 | 2 |" in text
    assert "python -m benchmarks.science " + " ".join(argv[:-2]) + "\n" in text  # the command, without --out
    assert "finished: 0, 1" in text and "Context: the paper's results (not measured here)" in text
    raw = json.loads(out.with_suffix(".json").read_text())
    assert len(raw["rows"]) == 4 and {r["seed"] for r in raw["rows"]} == {0, 1}
    if shutil.which("chromium"):  # installed by .ci/run
        assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG" and "![" in text and "results.png" in text
    html = out.with_suffix(".html").read_text()
    assert "plotly" in html and "lora" in html and "base model" in html
    assert str(tmp_path) not in out.with_suffix(".json").read_text()  # no path of this machine is saved
    assert str(tmp_path) not in text
    # Re-rendered from the saved rows alone, after moving the report and its discussion to another folder.
    (tmp_path / "results-discussion.md").write_text("The hand-written part.\n")
    text = science.main(["--report-only", "--out", str(out)]) == 0 and out.read_text()
    assert "The hand-written part." in text and "(`results-discussion.md`)" in text
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    names = [n for n in ("results.json", "results-discussion.md", "results.png") if (tmp_path / n).exists()]
    for name in names:
        (tmp_path / name).rename(moved / name)
    assert science.main(["--report-only", "--out", str(moved / "results.md")]) == 0
    assert (moved / "results.md").read_text() == text
    for name in names:
        (moved / name).rename(tmp_path / name)
    (tmp_path / "results-discussion.md").unlink()
    out.unlink()
    assert science.main(["--report-only", "--out", str(out)]) == 0
    text = out.read_text()
    assert "## Discussion" not in text

    # A seed run by another process with the same settings merges in; other settings are refused.
    other = tmp_path / "seed2.md"
    assert science.main(_science_argv(other, seeds="2")) == 0
    assert science.main(["--report-only", "--out", str(out), "--merge", str(other.with_suffix(".json"))]) == 0
    merged = out.read_text()
    assert "| lora |  | 0.001 | 3 |" in merged and "seed2.json (seeds 2" in merged
    odd = tmp_path / "odd.md"
    assert science.main(_science_argv(odd, seeds="3", lr="2e-3")) == 0
    with pytest.raises(SystemExit, match="other settings"):
        science.main(["--report-only", "--out", str(out), "--merge", str(odd.with_suffix(".json"))])


def test_science_figure_has_loss_and_accuracy_panels():
    import pandas as pd

    from sclora.figures import science_tradeoff

    rows = []
    for method, beta in (("lora", ""), ("sclora", 0.5), ("sclora", 0.9)):
        for lr in (1e-4, 3e-4):
            row = {"method": method, "beta": beta, "lr": lr}
            for m in ("finetune_loss_after", "preserve_loss_after", "finetune_accuracy_after", "preserve_accuracy_after"):
                row[f"{m}_mean"], row[f"{m}_std"] = 0.5 + lr * 100, 0.01
            rows.append(row)
    before = {"finetune_loss": 1.0, "preserve_loss": 1.0, "finetune_accuracy": 0.1, "preserve_accuracy": 0.9}
    fig = science_tradeoff(pd.DataFrame(rows), before, title="t")
    names = [t.name for t in fig.data]
    assert names.count("lora") == 2 and names.count("sclora β=0.9") == 2 and names.count("base model") == 2
    lora = next(t for t in fig.data if t.name == "lora")
    assert list(lora.x) == [0.51, 0.53] and list(lora.error_x.array) == [0.01, 0.01]
    no_acc = pd.DataFrame(rows).assign(finetune_accuracy_after_mean=float("nan"))
    assert len(science_tradeoff(no_acc).layout.annotations) == 1  # only the loss panel


def test_walkthrough_times_every_tab_step(tmp_path):
    from benchmarks import walkthrough

    out = tmp_path / "w.json"
    assert walkthrough.main(["--model", "tiny-llama", "--samples", "8", "--steps", "1", "--max-eval", "1",
                             "--methods", "lora,sclora", "--out", str(out)]) == 0
    steps = dict(json.loads(out.read_text())["steps"])
    assert len(steps) == 11 and all(s >= 0 for s in steps.values())
    assert any(k.startswith("tab 3: β slider") for k in steps) and any("fine-tune sclora" in k for k in steps)
