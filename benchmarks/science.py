"""The science benchmark: every method x β x learning rate over several seeds -> docs/results.md.

    python -m benchmarks.science                      # bundled model, math vs knowledge, 3 seeds (~70 min, 2 cores)
    python -m benchmarks.science --preserve safety    # safety instead of knowledge
    python -m benchmarks.science --model tiny-llama --steps 2 --max-eval 2 --out r.md   # smoke test

Each seed runs ``sclora.compare.compare`` (identical data, steps and rank for every run, the base
model checksummed); the report gives mean ± std over seeds of the after-training metrics and
the forgetting (change on the preserve set), the base model's "before" numbers, and the
measured seconds per training step of SC-LoRA against plain LoRA of the same rank. Every number in
the report is measured by this script. The report is saved after every seed (raw rows in
``<out>.json``; ``--report-only`` re-renders from them), with the figure as ``<out>.png`` (when
Chromium is present) and ``<out>.html``. The one hand-written part is ``<out stem>-discussion.md``,
found next to the report and appended when it exists. The saved JSON holds no absolute path (the run
folders and the output path are left out), so ``--report-only`` renders the same report from any folder.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

METRICS = [("finetune_loss_after", "fine-tune loss ↓"), ("finetune_accuracy_after", "fine-tune acc ↑"),
           ("preserve_loss_after", "preserve loss ↓"), ("preserve_loss_change", "Δ preserve loss ↓"),
           ("preserve_accuracy_after", "preserve acc ↑"), ("preserve_accuracy_change", "Δ preserve acc ↑")]


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.science", description=__doc__.split("\n")[0])
    p.add_argument("--model", default="bundled")
    p.add_argument("--finetune", default="math")
    p.add_argument("--preserve", default="knowledge")
    p.add_argument("--methods", default="lora,pissa,milora,corda-kpm,corda-ipm,sclora")
    p.add_argument("--betas", default="0.5,0.9")
    p.add_argument("--lrs", default="1e-4,4e-4")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--rank", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--max-samples", type=int, default=128)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--max-eval", type=int, default=16)
    p.add_argument("--cost-steps", type=int, default=0, help="steps per timing of LoRA vs SC-LoRA (0: skip)")
    p.add_argument("--cost-only", action="store_true", help="only time LoRA vs SC-LoRA steps, print, write nothing")
    p.add_argument("--device", default=None)
    p.add_argument("--runs-dir", default=None, help="also keep every run folder here")
    p.add_argument("--out", default=str(ROOT / "docs" / "results.md"),
                   help="the report; the raw rows go beside it as .json, the figure as .html")
    p.add_argument("--report-only", action="store_true", help="re-render the report from the saved .json")
    p.add_argument("--merge", default="",
                   help="with --report-only: also take the rows of these .json files (comma-separated), e.g. "
                        "seeds run as separate processes with the same settings")
    return p.parse_args(argv)


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def step_cost(model, tokenizer, data, *, rank: int, batch_size: int, steps: int, repeats: int = 3) -> dict:
    """Median seconds per optimizer step of plain LoRA and of SC-LoRA (β=0.5), timed alternately."""
    from sclora.statistics import collect_statistics
    from sclora.train import build_adapter, finetune

    stats = collect_statistics(model, data.finetune_ids, data.preserve_ids, pad_token_id=tokenizer.pad_token_id or 0)
    times: dict[str, list[float]] = {"lora": [], "sclora": []}
    for _ in range(repeats):
        for method in times:
            peft_model = build_adapter(model, method, rank=rank, beta=0.5, statistics=stats)
            result = finetune(peft_model, data.train, steps=steps, lr=1e-4, batch_size=batch_size,
                              pad_id=tokenizer.pad_token_id or 0)
            times[method].append(result.seconds / steps)
            del peft_model
    return {m: statistics.median(t) for m, t in times.items()}


def aggregate(table):
    """Mean and std over seeds per (method, β, lr)."""
    import pandas as pd

    table = table.copy()
    table["beta"] = table["beta"].astype(object).where(table["beta"].notna(), "")
    cols = [c for c, _ in METRICS]
    grouped = table.groupby(["method", "beta", "lr"], sort=False)[cols]
    mean, std, n = grouped.mean(), grouped.std(ddof=1), grouped.size()
    return pd.concat({"mean": mean, "std": std}, axis=1), n


def _fmt(mean, std) -> str:
    if mean != mean:  # NaN: metric not applicable
        return "–"
    return f"{mean:.3f} ± {std:.3f}" if std == std else f"{mean:.3f}"


def markdown(args, argv, before, agg, n, cost, seconds, versions, device, seeds_done, figure=None, merged=None,
             out: str | Path = "results.md") -> str:
    """The report's text; the discussion is read from ``<out stem>-discussion.md`` beside ``out``."""
    lines = [f"# Results: SC-LoRA and baselines on `{args.model}`", "",
             "Generated by `benchmarks/science.py`; every number below was measured by the command:", "",
             "```", "python -m benchmarks.science " + " ".join(argv), "```", "",
             f"Model `{args.model}`, fine-tune set `{args.finetune}`, preserve set `{args.preserve}`; rank "
             f"{args.rank}, {args.steps} steps, batch {args.batch_size}, max length {args.max_length}, "
             f"{args.max_samples} samples per set for statistics/CorDA, accuracy on the first {args.max_eval} "
             f"held-out prompts; seeds {args.seeds} (finished: {', '.join(map(str, seeds_done))}). Device: {device}; torch {versions['torch']}, transformers "
             f"{versions['transformers']}, peft {versions['peft']}. "
             + (f"Some seeds ran in other processes with the same settings (merged with `--merge`): "
                f"{'; '.join(merged)}. Process time, summed: {seconds / 60:.1f} min." if merged
                else f"Wall time {seconds / 60:.1f} min."), "",
             "## Base model (before fine-tuning)", "",
             "| fine-tune loss | fine-tune acc | preserve loss | preserve acc |", "|---|---|---|---|",
             "| " + " | ".join(_fmt(before.get(k) if before.get(k) is not None else float("nan"), float("nan"))
                              for k in ("finetune_loss", "finetune_accuracy", "preserve_loss", "preserve_accuracy"))
             + " |", "",
             "## After fine-tuning (mean ± std over seeds)", "",
             "| method | β | lr | seeds | " + " | ".join(label for _, label in METRICS) + " |",
             "|" + "---|" * (4 + len(METRICS))]
    for (method, beta, lr), row in agg.iterrows():
        cells = [_fmt(row[("mean", c)], row[("std", c)]) for c, _ in METRICS]
        lines.append(f"| {method} | {beta} | {lr:g} | {n[(method, beta, lr)]} | " + " | ".join(cells) + " |")
    if figure:
        lines += ["", f"![Fine-tune vs preserve metric after training, mean ± std over seeds]({figure}.png)", "",
                  f"Interactive version: [{figure}.html]({figure}.html). Each line joins one method's learning "
                  "rates; the star is the base model."]
    lines += ["", "Δ = after − before on the preserve set: a loss increase or an accuracy drop is forgetting.",
              "Accuracy rules are those of `sclora/evaluate.py` (math: the final 'The answer is N.'; knowledge: "
              "normalised reference contained in the answer; refusal: keyword rule).", ""]
    if cost:
        lines += ["## Cost per training step (same rank, same data)", "",
                  "| method | seconds / step (median of 3) |", "|---|---|",
                  f"| lora | {cost['lora']:.3f} |", f"| sclora | {cost['sclora']:.3f} |",
                  f"| ratio sclora / lora | {cost['sclora'] / cost['lora']:.2f} |", ""]
    lines += PAPER_CONTEXT
    discussion = Path(out).with_name(Path(out).stem + "-discussion.md")
    if discussion.exists():  # the one hand-written part: what the numbers above say, next to the paper's
        lines += ["## Discussion", "", f"Written by hand from the numbers above (`{discussion.name}`); re-read it "
                  "whenever they are regenerated.", "", discussion.read_text(encoding="utf-8").strip(), ""]
    return "\n".join(lines) + "\n"


# The paper's own numbers (arXiv 2505.23724, Llama-2-7B, MetaMathQA 100k fine-tune, Cov- from 256 NQ-open
# samples), quoted for context only: a 7B model, 1 epoch and exact-match benchmarks, not our setting.
PAPER_CONTEXT = [
    "## Context: the paper's results (not measured here)", "",
    "Luo et al., arXiv 2505.23724, Llama-2-7B fine-tuned on MetaMathQA (100k) while preserving world knowledge "
    "(C− from 256 NQ-open samples); knowledge = exact match averaged over TriviaQA/NQ-open/WebQS, math = GSM8k/MATH "
    "average. Quoted from the paper for orientation; the scale (7B, one epoch) is far from ours.", "",
    "| method | knowledge avg | math avg |", "|---|---|---|",
    "| base model | 25.75 | – |", "| full FT | 19.41 | 28.60 |", "| LoRA | 18.30 | 23.62 |",
    "| PiSSA | 19.20 | 29.67 |", "| CorDA IPA | 15.15 | 29.87 |", "| CorDA KPA | 21.39 | 25.79 |",
    "| SC-LoRA β=0 | 18.88 | 31.25 |", "| SC-LoRA β=0.5 | 21.17 | 31.00 |", "| SC-LoRA β=0.8 | 22.73 | 30.04 |", "",
]


# Options that say where files go, not how the runs were made: kept out of the saved JSON and the
# rendered command, so neither carries a path of the machine that ran it.
LOCAL_OPTIONS = {"out": "--out", "runs_dir": "--runs-dir"}


def portable(raw: dict) -> dict:
    """``raw`` without machine-local paths: the output and run folders are dropped from args, argv and rows."""
    raw = dict(raw)
    raw["args"] = {k: v for k, v in raw["args"].items() if k not in LOCAL_OPTIONS}
    argv, flags = [], set(LOCAL_OPTIONS.values())
    skip = False
    for item in raw.get("argv", []):
        if skip:
            skip = False
            continue
        if item in flags:
            skip = True
            continue
        if item.split("=", 1)[0] in flags:
            continue
        argv.append(item)
    raw["argv"] = argv
    raw["rows"] = [{k: v for k, v in row.items() if k != "run_dir"} for row in raw.get("rows", [])]
    return raw


def save_raw(raw: dict, path: Path) -> None:
    """The rows and settings the report is rendered from (whole or not at all), without local paths."""
    import json

    from sclora.files import atomic_file_write

    raw = portable(raw)
    atomic_file_write(path, lambda tmp: Path(tmp).write_text(json.dumps(raw, indent=1), encoding="utf-8"))


def write_report(raw: dict, out: Path) -> str:
    """Render ``raw`` (the JSON this script saves after every seed) to ``out`` (.md) and its figure."""
    import pandas as pd

    from sclora.figures import science_tradeoff, write_figures
    from sclora.files import atomic_file_write

    raw = portable(raw)
    args = argparse.Namespace(**raw["args"])
    table = pd.DataFrame(raw["rows"])
    agg, n = aggregate(table)
    flat = agg.copy()
    flat.columns = [f"{col}_{stat}" for stat, col in flat.columns]
    figure = science_tradeoff(flat.reset_index(), raw["before"], title=f"{args.finetune} vs {args.preserve}, "
                              f"{args.steps} steps, mean ± std over seeds")
    _, note = write_figures({out.stem: figure}, out.parent, plotlyjs="cdn")
    has_png = out.with_suffix(".png").exists()
    if note:
        print(note + (f" {out.with_suffix('.png').name} is kept from an earlier render." if has_png else ""),
              file=sys.stderr)
    text = markdown(args, raw["argv"], raw["before"], agg, n, raw["cost"], raw["seconds"], raw["versions"],
                    raw["device"], seeds_done=sorted(set(table["seed"])), figure=out.stem if has_png else None,
                    merged=raw.get("merged"), out=out)
    atomic_file_write(out, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return text


def main(argv=None) -> int:
    import json

    import pandas as pd
    import torch

    from sclora.compare import compare, examples_from, prepare_data
    from sclora.models import load_model
    from sclora.runs import library_versions

    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    out = Path(args.out)
    raw_path = out.with_suffix(".json")
    if args.report_only:
        raw = json.loads(raw_path.read_text(encoding="utf-8"))
        for extra in filter(None, args.merge.split(",")):
            more = json.loads(Path(extra).read_text(encoding="utf-8"))
            control = ("seeds", "out", "runs_dir", "merge", "report_only", "cost_only")  # not settings of the runs
            check_same = {k: v for k, v in more["args"].items() if k not in control}
            mine = {k: v for k, v in raw["args"].items() if k not in control}
            if check_same != mine:
                raise SystemExit(f"{extra}: other settings than {raw_path}, not merged: "
                                 f"{ {k: v for k, v in check_same.items() if mine.get(k) != v} }")
            raw["rows"] += [r for r in more["rows"] if r["seed"] not in {x["seed"] for x in raw["rows"]}]
            raw["seconds"] += more["seconds"]
            raw.setdefault("merged", []).append(f"{Path(extra).name} (seeds {more['args']['seeds']}, {more['device']})")
        if raw.get("merged"):
            save_raw(raw, raw_path)
        print(write_report(raw, out))
        return 0
    started = time.perf_counter()
    model, tok = load_model(args.model, device=args.device)
    finetune_ex, preserve_ex = examples_from(args.finetune), examples_from(args.preserve)
    device = str(next(model.parameters()).device)
    if device == "cpu":
        device = f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    cost = None
    if args.cost_steps > 0:
        data = prepare_data(finetune_ex, preserve_ex, tok, max_samples=args.max_samples, max_length=args.max_length)
        cost = step_cost(model, tok, data, rank=args.rank, batch_size=args.batch_size, steps=args.cost_steps)
        print(f"step cost: {cost}", file=sys.stderr)
    if args.cost_only:
        return 0
    tables = []
    for seed in (int(s) for s in args.seeds.split(",")):
        print(f"seed {seed} ...", file=sys.stderr)
        result = compare(model, tok, finetune_ex, preserve_ex, methods=args.methods.split(","),
                         betas=_floats(args.betas), lrs=_floats(args.lrs), rank=args.rank, steps=args.steps,
                         batch_size=args.batch_size, seed=seed, max_samples=args.max_samples,
                         max_length=args.max_length, max_eval=args.max_eval, model_name=args.model,
                         out_dir=Path(args.runs_dir) / f"seed{seed}" if args.runs_dir else None,
                         on_event=lambda kind, info: print(f"  {info['name']} "
                                                           f"({info['record'].metrics['train_seconds']:.0f} s)",
                                                           file=sys.stderr) if kind == "run_done" else None)
        tables.append(result.table.assign(seed=seed))
        # Save after every seed, so a long run that is cut off still leaves its finished seeds.
        table = pd.concat(tables, ignore_index=True)
        raw = {"args": vars(args), "argv": argv, "before": result.before, "cost": cost, "device": device,
               "seconds": time.perf_counter() - started, "versions": library_versions(),
               "rows": json.loads(table.to_json(orient="records"))}
        save_raw(raw, raw_path)
        text = write_report(raw, out)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
