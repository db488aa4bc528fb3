"""Where does LoRA forget? A calibration, then the knowledge verdicts in the regime it finds.

    python -m benchmarks.science.regime                   # calibration, then the regime's verdicts (resumable)
    python -m benchmarks.science.regime --calibrate-only  # docs/forgetting-regime.md/.json only
    python -m benchmarks.science.regime --report-only     # both reports again from their .json

**Calibration.** Plain LoRA, one seed, one run per (fine-tune set, learning rate), each evaluated at
checkpoints along the way (held-out multiple-choice knowledge accuracy and held-out fine-tune loss), so
one run gives the whole steps curve. A run stops early when it turns unstable: its loss is not finite, or
its held-out fine-tune loss is above the base model's. The learning rate follows the cosine schedule of the
whole run, so a checkpoint at step s has seen larger steps than a run of s steps would: the curves locate
the regime, and LoRA's drop in it is measured again by the verdict runs themselves.

**The regime** is the cheapest checkpoint (fewest steps; then the largest drop) where LoRA has lost at least
``--min-drop`` of held-out multiple-choice accuracy while its held-out fine-tune loss is still falling; when
no checkpoint does, the one that forgets most.

**The verdicts** are the protocol of ``benchmarks.science`` (matched fine-tune loss, paired bootstrap) run
in that regime on the knowledge experiment (C− from 128 knowledge samples): LoRA over the regime's learning
rate and two below it (×0.3, ×0.1), the residual inits 10× lower, as in the protocol. Written to
``docs/results-regime.md/.json`` with ``regime: {finetune, steps, lr_range, lora_mc_drop}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.science.analysis import bootstrap  # noqa: E402
from benchmarks.science.plan import finetune_loss, recipe, save_raw  # noqa: E402
from benchmarks.science.protocol import device_name, finetune_losses, multiple_choice, seed_data  # noqa: E402

CALIBRATION_OUT = ROOT / "docs" / "forgetting-regime.md"
VERDICTS_OUT = ROOT / "docs" / "results-regime.md"
README = ROOT / "README.md"
START, END = "<!-- regime:start -->", "<!-- regime:end -->"  # the README's block of the regime's verdicts


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.science.regime", description=__doc__.split("\n")[0])
    p.add_argument("--model", default="bundled")
    p.add_argument("--finetunes", default="math,pirate", help="the bundled fine-tune sets calibrated")
    p.add_argument("--lrs", default="1e-3,3e-3,1e-2,3e-2", help="LoRA's learning rates, one run each")
    p.add_argument("--checkpoints", default="12,25,50,100", help="steps where a run is evaluated; the last "
                   "is the run's length")
    p.add_argument("--min-drop", type=float, default=0.05, help="held-out MC accuracy LoRA must lose")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rank", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--eval-prompts", type=int, default=200, help="held-out knowledge questions")
    p.add_argument("--device", default=None)
    p.add_argument("--out", default=str(CALIBRATION_OUT), help="the calibration report (its data beside it, .json)")
    p.add_argument("--verdicts-out", default=str(VERDICTS_OUT), help="the regime's verdict report")
    p.add_argument("--verdict-args", default="", help="more flags for the verdicts' protocol (benchmarks.science), "
                   "e.g. '--seeds 0 --eval-prompts 6' for a smoke test")
    p.add_argument("--readme", default=None, help="README whose regime block is rewritten (default: README.md when "
                   "--verdicts-out is the default)")
    p.add_argument("--calibrate-only", action="store_true")
    p.add_argument("--report-only", action="store_true", help="re-render both reports from their .json")
    args = p.parse_args(argv)
    if args.readme is None:
        args.readme = str(README) if Path(args.verdicts_out).resolve() == VERDICTS_OUT else ""
    return args


def calibration_settings(args) -> dict:
    checkpoints = sorted({int(x) for x in args.checkpoints.split(",") if x.strip()})
    lrs = sorted({float(x) for x in args.lrs.split(",") if x.strip()})
    finetunes = [x.strip() for x in args.finetunes.split(",") if x.strip()]
    if not checkpoints or checkpoints[0] < 1 or not lrs or not finetunes:
        raise SystemExit("--checkpoints, --lrs and --finetunes each need one value or more (steps ≥ 1).")
    # The keys seed_data reads (no C− is built here: preserve_samples/insample ask for no pool).
    return {"model": args.model, "finetunes": finetunes, "lrs": lrs, "checkpoints": checkpoints,
            "min_drop": args.min_drop, "seed": args.seed, "rank": args.rank, "batch_size": args.batch_size,
            "max_length": args.max_length, "eval_prompts": args.eval_prompts, "finetune_samples": 0,
            "preserve_samples": [0], "insample": 0, "safety_eval": 0}


# --------------------------------------------------------------------------- calibration runs


def checkpoint_scores(model, tokenizer, data) -> dict:
    right, _, _ = multiple_choice(model, tokenizer, data.knowledge_heldout)
    return {"mc_heldout": right, **finetune_losses(model, tokenizer, data)}


def calibration_run(base, tokenizer, data, settings: dict, finetune_set: str, before: dict, lr: float) -> dict:
    """One LoRA run of ``settings['checkpoints'][-1]`` steps at ``lr`` on ``finetune_set`` (``data``), scored at
    every checkpoint; ``before`` is the base model's score."""
    from sclora.errors import SCLoRAError
    from sclora.train import build_adapter, finetune

    model = build_adapter(base, "lora", rank=settings["rank"], seed=settings["seed"])
    base_loss = finetune_loss(before)
    points, eval_seconds, losses, stop = [], [0.0], [], {"reason": None}

    def on_step(info) -> None:
        losses.append(info.loss)
        if info.step not in settings["checkpoints"]:
            return
        started = time.perf_counter()
        model.eval()
        point = {"step": info.step, "train_loss": float(np.mean(losses[-(info.step - _previous(points)):])),
                 **checkpoint_scores(model, tokenizer, data)}
        model.train()
        points.append(point)
        eval_seconds[0] += time.perf_counter() - started
        print(f"    step {info.step}: MC {np.mean(point['mc_heldout']):.3f}, fine-tune loss "
              f"{finetune_loss(point):.3f}", file=sys.stderr, flush=True)
        if finetune_loss(point) > base_loss:
            stop["reason"] = f"held-out fine-tune loss above the base model's at step {info.step}"

    started = time.perf_counter()
    try:
        finetune(model, data.train, steps=settings["checkpoints"][-1], lr=lr, batch_size=settings["batch_size"],
                 seed=settings["seed"], pad_id=tokenizer.pad_token_id or 0, on_step=on_step,
                 should_stop=lambda: stop["reason"] is not None)
    except SCLoRAError as exc:  # divergence: the checkpoints before it stand
        stop["reason"] = str(exc)
    seconds = time.perf_counter() - started
    return {"finetune": finetune_set, "lr": lr, "points": points, "train_losses": [round(x, 5) for x in losses],
            "unstable": stop["reason"], "train_seconds": round(seconds - eval_seconds[0], 2),
            "eval_seconds": round(eval_seconds[0], 2)}


def _previous(points: list[dict]) -> int:
    return points[-1]["step"] if points else 0


def calibrate(settings: dict, raw_path: Path, argv: list[str], torch_device=None, after_run=None) -> dict:
    """Every (fine-tune set, learning rate) run not yet in ``raw_path``, each saved as it ends (then
    ``after_run(raw)``, e.g. the report, so a run cut off later leaves one)."""
    from sclora.models import load_model

    raw = {"settings": settings, "argv": recipe(argv), "before": {}, "runs": [], "seconds": 0.0}
    if raw_path.exists():
        saved = json.loads(raw_path.read_text(encoding="utf-8"))
        if saved.get("settings") != settings:
            raise SystemExit(f"{raw_path} holds a calibration of other settings; give another --out or remove it.")
        raw = saved
    done = {(r["finetune"], r["lr"]) for r in raw["runs"]}
    if all((f, lr) in done for f in settings["finetunes"] for lr in settings["lrs"]):
        return raw
    started, spent = time.perf_counter(), raw["seconds"]
    model, tokenizer = load_model(settings["model"], device=torch_device)
    raw["device"] = device_name(model)

    def save() -> None:
        raw["seconds"] = spent + time.perf_counter() - started
        save_raw(raw, raw_path)

    for name in settings["finetunes"]:
        data = seed_data({**settings, "finetune": name}, tokenizer, settings["seed"])
        if name not in raw["before"]:
            raw["before"][name] = checkpoint_scores(model, tokenizer, data)
            save()
        for lr in settings["lrs"]:
            if (name, lr) in done:
                continue
            print(f"calibration: {name}, LoRA lr {lr:g} ...", file=sys.stderr, flush=True)
            raw["runs"].append(calibration_run(model, tokenizer, data, settings, name, raw["before"][name], lr))
            if after_run is not None:
                after_run(raw)
            save()
    return raw


# --------------------------------------------------------------------------- the curves and the regime


def drop_interval(before: list[int], after: list[int]) -> tuple[float, float, float]:
    """Held-out MC accuracy lost (before − after) and its 95 % paired bootstrap interval over prompts."""
    per_prompt = (np.asarray(before, dtype=float) - np.asarray(after, dtype=float))[None, :]
    return bootstrap({0: per_prompt}, lambda m: m[0].mean())


def curves(raw: dict) -> list[dict]:
    """Per run and checkpoint: accuracy, its drop with interval, fine-tune losses, and whether still falling."""
    out = []
    for run in raw["runs"]:
        before = raw["before"][run["finetune"]]
        previous = finetune_loss(before)
        for point in run["points"]:
            loss = finetune_loss(point)
            drop, low, high = drop_interval(before["mc_heldout"], point["mc_heldout"])
            out.append({"finetune": run["finetune"], "lr": run["lr"], "steps": point["step"],
                        "mc_heldout": float(np.mean(point["mc_heldout"])), "mc_drop": drop, "ci_low": low,
                        "ci_high": high, "finetune_loss": loss, "train_loss": point["train_loss"],
                        "loss_falling": loss < previous})
            previous = loss
    return out


def choose_regime(raw: dict, points: list[dict] | None = None) -> dict | None:
    """The cheapest checkpoint where LoRA loses ≥ min_drop while its fine-tune loss still falls, or else the one
    that forgets most (``met`` says which). ``points``: ``curves(raw)`` when already computed."""
    points = curves(raw) if points is None else points
    if not points:
        return None
    meeting = [p for p in points if p["mc_drop"] >= raw["settings"]["min_drop"] and p["loss_falling"]]
    chosen = (min(meeting, key=lambda p: (p["steps"], -p["mc_drop"])) if meeting
              else max(points, key=lambda p: p["mc_drop"]))
    return {**chosen, "met": bool(meeting)}


def regime_lrs(lr: float) -> dict:
    """LoRA over the regime's learning rate and the two below it; the residual inits 10× lower (as in the
    protocol: they take far larger steps at one learning rate)."""
    lora = [float(f"{lr * k:.3g}") for k in (0.1, 0.3, 1)]
    return {"lora": lora, "residual": [float(f"{x / 10:.3g}") for x in lora]}


def calibration_markdown(raw: dict, figure: str | None, out: Path) -> str:
    """The report; ``raw`` carries its ``curves`` and ``regime`` (``write_calibration_report`` sets them)."""
    settings, regime = raw["settings"], raw["regime"]
    planned = len(settings["finetunes"]) * len(settings["lrs"])
    lines = ["# Where forgetting happens: LoRA's calibration", "",
             f"Generated by `benchmarks/science/regime.py` from `{out.with_suffix('.json').name}`; every number below "
             "was measured by:", "", "```", " ".join(["python -m benchmarks.science.regime", *raw["argv"]]), "```", "",
             f"Model `{settings['model']}`, plain LoRA (rank {settings['rank']}, batch {settings['batch_size']}, max "
             f"length {settings['max_length']}), seed {settings['seed']}; one run per fine-tune set and learning rate "
             f"({len(raw['runs'])} of {planned} done), evaluated at steps "
             f"{', '.join(map(str, settings['checkpoints']))} on {settings['eval_prompts']} held-out knowledge "
             "questions (multiple choice, the answer against 3 distractors) and the fine-tune set's held-out part. "
             "The learning rate follows the cosine schedule of the whole run, so step s of a run has seen larger "
             "steps than a run of s steps: the curves locate the regime and the verdict runs measure LoRA's drop "
             "in it again.", "",
             f"Device: {raw.get('device', '–')}; process time {raw['seconds'] / 60:.0f} min.", "", "## The regime", ""]
    if regime is None:
        lines += ["No run has finished yet.", ""]
    else:
        what = (f"the cheapest setting where LoRA loses at least {settings['min_drop'] * 100:.0f} points of held-out "
                "multiple-choice accuracy while its held-out fine-tune loss is still falling" if regime["met"] else
                f"no setting reached here makes LoRA lose {settings['min_drop'] * 100:.0f} points while its fine-tune "
                "loss still falls; this is the one that forgets most")
        lines += [f"**`{regime['finetune']}`, {regime['steps']} steps at LoRA learning rate {regime['lr']:g}**: {what}. "
                  f"LoRA's held-out MC accuracy drops by {regime['mc_drop'] * 100:.1f} points (95 % interval "
                  f"{regime['ci_low'] * 100:.1f} to {regime['ci_high'] * 100:.1f}, bootstrap over the questions), "
                  f"held-out fine-tune loss {regime['finetune_loss']:.3f}.", ""]
    lines += ["## Curves", ""]
    if figure:
        lines += [f"![Held-out MC accuracy and fine-tune loss against steps, one line per learning rate]({figure}.png)",
                  "", f"Interactive: [{figure}.html]({figure}.html).", ""]
    for name in settings["finetunes"]:
        base = raw["before"].get(name)
        if base is None:
            continue
        lines += [f"**`{name}`** (base model: MC accuracy {np.mean(base['mc_heldout']):.3f}, held-out fine-tune "
                  f"loss {finetune_loss(base):.3f})", "",
                  "| lr | steps | MC accuracy | drop (points) | 95 % CI | fine-tune loss | still falling | train loss |",
                  "|---|---|---|---|---|---|---|---|"]
        for p in (p for p in raw["curves"] if p["finetune"] == name):
            lines.append(f"| {p['lr']:g} | {p['steps']} | {p['mc_heldout']:.3f} | {p['mc_drop'] * 100:+.1f} | "
                         f"[{p['ci_low'] * 100:+.1f}, {p['ci_high'] * 100:+.1f}] | {p['finetune_loss']:.3f} | "
                         f"{'yes' if p['loss_falling'] else 'no'} | {p['train_loss']:.3f} |")
        unstable = [r for r in raw["runs"] if r["finetune"] == name and r["unstable"]]
        lines += [""] + [f"- lr {r['lr']:g} stopped: {r['unstable']}." for r in unstable] + ([""] if unstable else [])
    lines += ["## Budget", "", "| fine-tune | lr | steps run | training (s) | evaluation (s) |", "|---|---|---|---|---|"]
    lines += [f"| {r['finetune']} | {r['lr']:g} | {len(r['train_losses'])} | {r['train_seconds']:.0f} | "
              f"{r['eval_seconds']:.0f} |" for r in raw["runs"]]
    return "\n".join(lines) + "\n"


def calibration_figure(raw: dict):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    settings = raw["settings"]
    names = settings["finetunes"]
    fig = make_subplots(rows=2, cols=len(names), shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=[f"{n}: held-out MC accuracy" for n in names]
                        + [f"{n}: held-out fine-tune loss" for n in names])
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
    points = raw["curves"]
    for col, name in enumerate(names, start=1):
        base = raw["before"].get(name)
        for i, lr in enumerate(settings["lrs"]):
            mine = [p for p in points if p["finetune"] == name and p["lr"] == lr]
            if not mine or base is None:
                continue
            steps = [0] + [p["steps"] for p in mine]
            style = dict(color=palette[i % len(palette)])
            fig.add_trace(go.Scatter(x=steps, y=[float(np.mean(base["mc_heldout"]))] + [p["mc_heldout"] for p in mine],
                                     mode="lines+markers", name=f"lr {lr:g}", legendgroup=str(lr), showlegend=col == 1,
                                     line=style), row=1, col=col)
            fig.add_trace(go.Scatter(x=steps, y=[finetune_loss(base)] + [p["finetune_loss"] for p in mine],
                                     mode="lines+markers", name=f"lr {lr:g}", legendgroup=str(lr), showlegend=False,
                                     line=style), row=2, col=col)
        if base is not None:
            threshold = float(np.mean(base["mc_heldout"])) - settings["min_drop"]
            fig.add_hline(y=threshold, line=dict(color="#888", dash="dot", width=1), row=1, col=col)
        fig.update_xaxes(title_text="steps", row=2, col=col)
        fig.update_yaxes(type="log", row=2, col=col)  # "still falling" is read near the bottom, over decades
    fig.update_layout(template="plotly_white", height=620, width=480 * len(names), margin=dict(l=60, r=20, t=60, b=60))
    return fig


def write_calibration_report(raw: dict, out: Path) -> str:
    from benchmarks.report import figure_beside
    from sclora.files import atomic_file_write

    raw["curves"] = curves(raw)  # each point's bootstrap, computed once for the regime, the tables and the figure
    raw["regime"] = choose_regime(raw, raw["curves"])
    figure = figure_beside(calibration_figure(raw), out) if raw["runs"] else None
    text = calibration_markdown(raw, figure, out)
    atomic_file_write(out, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return text


# --------------------------------------------------------------------------- the verdicts in the regime


def verdict_argv(regime: dict, extra: str) -> list[str]:
    lrs = regime_lrs(regime["lr"])
    return ["--finetune", regime["finetune"], "--steps", str(regime["steps"]), "--phases", "knowledge-small",
            "--lrs-lora", ",".join(f"{x:g}" for x in lrs["lora"]),
            "--lrs-residual", ",".join(f"{x:g}" for x in lrs["residual"]), *extra.split()]


def regime_block(raw: dict, calibration: dict) -> dict:
    """results.json's ``regime``: where it came from and LoRA's held-out MC drop measured by the verdict runs at
    the regime's learning rate (mean over seeds, 95 % bootstrap over seeds and questions)."""
    from benchmarks.science.plan import change

    regime, settings = calibration["regime"], raw["settings"]
    lr = max(settings["learning_rates_by_method"]["lora"])
    per_seed = {r["seed"]: -change(r, raw["before"][str(r["seed"])], "mc", "heldout")[None, :]
                for r in raw["rows"] if r["method"] == "lora" and r["lr"] == lr}
    drop = None
    if per_seed:
        point, low, high = bootstrap(per_seed, lambda m: m[0].mean())
        drop = {"mean": point, "ci_low": low, "ci_high": high, "seeds": sorted(per_seed), "lr": lr}
    return {"finetune": settings["finetune"], "steps": settings["steps"],
            "lr_range": settings["learning_rates_by_method"], "lora_mc_drop": drop,
            "calibration": {"lr": regime["lr"], "steps": regime["steps"], "mc_drop": regime["mc_drop"],
                            "met": regime["met"], "source": CALIBRATION_OUT.with_suffix(".json").name}}


def regime_sentences(block: dict, docs: str = "") -> str:
    """Where the regime comes from and LoRA's drop in it; ``docs``: the path from the page to docs/."""
    drop = block["lora_mc_drop"]
    measured = (f"In these runs LoRA at lr {drop['lr']:g} lost **{drop['mean'] * 100:.1f} points** of held-out "
                f"multiple-choice accuracy (95 % interval {drop['ci_low'] * 100:.1f} to {drop['ci_high'] * 100:.1f}, "
                f"seeds {', '.join(map(str, drop['seeds']))})." if drop else "LoRA's runs are not finished yet.")
    return (f"Chosen by the calibration ([{docs}forgetting-regime.md]({docs}forgetting-regime.md)): "
            f"`{block['finetune']}`, {block['steps']} steps; learning rates LoRA {block['lr_range']['lora']}, "
            f"residual inits {block['lr_range']['sclora']}. The calibration measured a drop of "
            f"{block['calibration']['mc_drop'] * 100:.1f} points there (one seed). {measured}")


def verdicts(calibration: dict, args, argv_extra: str, report_only: bool) -> None:
    from benchmarks.science.__main__ import parse_args as protocol_args
    from benchmarks.science.plan import settings_of
    from benchmarks.science.protocol import run
    from benchmarks.science.report import write_report

    out = Path(args.verdicts_out)
    raw_path = out.with_suffix(".json")
    if not report_only:
        argv = verdict_argv(calibration["regime"], argv_extra)
        protocol = protocol_args([*argv, "--model", args.model])
        run(settings_of(protocol), ["--model", args.model, *argv], out, "", model_name=args.model,
            torch_device=args.device)
    raw = json.loads(raw_path.read_text(encoding="utf-8"))
    raw["regime"] = regime_block(raw, calibration)
    text = write_report(raw, out, args.readme, preface=["## The regime", "", regime_sentences(raw["regime"]), ""],
                        command="python -m benchmarks.science.regime", markers=(START, END),
                        readme_preface=[regime_sentences(raw["regime"], "docs/"), ""])
    save_raw(raw, raw_path)
    print(text)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    out = Path(args.out)
    raw_path = out.with_suffix(".json")
    if args.report_only:
        raw = json.loads(raw_path.read_text(encoding="utf-8"))
    else:
        raw = calibrate(calibration_settings(args), raw_path, argv, args.device,
                        after_run=lambda partial: write_calibration_report(partial, out))
    print(write_calibration_report(raw, out))
    save_raw(raw, raw_path)
    if args.calibrate_only or raw["regime"] is None:
        return 0
    if args.report_only and not Path(args.verdicts_out).with_suffix(".json").exists():
        return 0
    verdicts(raw, args, args.verdict_args, args.report_only)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
