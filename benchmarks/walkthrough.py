"""Time the app's default walkthrough, step by step, through the tabs' own functions (no browser).

    python -m benchmarks.walkthrough                 # bundled model, 256 + 256 samples, rank 8
    python -m benchmarks.walkthrough --samples 64 --steps 10 --methods lora,sclora
    python -m benchmarks.walkthrough --model tiny-llama --samples 16 --steps 2 --max-eval 2 --out w.json

Each step calls what the tab's button or slider calls (explorer.tabs.*), with the session caches the
app keeps, so "β slider to 0.5" is what a user waits for after the first view. Prints a Markdown
table; ``--out`` also writes the steps as JSON. ``make bench`` (``benchmarks.run``, measurement
``walkthrough``) runs the same steps and records them in benchmarks/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.walkthrough")
    p.add_argument("--model", default="bundled")
    p.add_argument("--samples", type=int, default=256)
    p.add_argument("--max-length", type=int, default=256)
    p.add_argument("--rank", type=int, default=8)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--methods", default="lora,sclora")
    p.add_argument("--max-eval", type=int, default=16)
    p.add_argument("--out", default=None, help="also write the steps here as JSON")
    return p


def run_steps(model: str, samples: int, max_length: int, rank: int, steps: int, methods: str, max_eval: int,
              echo: bool = True) -> list[tuple[str, float]]:
    """(label, seconds) for every step of the walkthrough, in order, in a fresh session (dropped after)."""
    rows: list[tuple[str, float]] = []

    def step(label, fn):
        start = time.perf_counter()
        value = fn()
        rows.append((label, time.perf_counter() - start))
        if echo:
            print(f"{label}: {rows[-1][1]:.1f} s", flush=True)
        return value

    from explorer import engine, shared
    from explorer.session import STORE
    from explorer.tabs import covariances, data, finetune, subspace

    engine.set_default_model(model)
    step("load the model (warm cache)", lambda: engine.get_model(model))
    session = STORE.get(None)
    try:
        step("tab 1: load, validate, split and tokenize math + knowledge", lambda: data.load(
            session, model, "math", "knowledge", samples, max_length))
        n_f, n_p = len(session.data.finetune_ids), len(session.data.preserve_ids)
        step(f"tab 2: covariances, {n_f} + {n_p} samples", lambda: covariances.compute(session))
        layers, kinds = covariances.layers_and_kinds(session)
        mid, last_kind = layers[len(layers) // 2], kinds[-1]
        n_mod = len(session.statistics.modules)
        ranks = covariances.sweep_ranks(session.statistics)
        # compute() started the grid in the background; this waits for it (its whole time, as it just began).
        step(f"tab 3: the β grid ({len(covariances.SWEEP_BETAS)} β × {n_mod} modules, every rank 1..{ranks[-1]}, "
             "float32; starts in the background after tab 2)", lambda: shared.sweep(
                 session.model_name, session.data, session.statistics, covariances.SWEEP_BETAS, ranks))
        step(f"tab 2: heatmap at β = 0.9 (one eigensolve per module: {n_mod}, every rank at once)",
             lambda: covariances.heatmap_figure(session, 0.9, rank, list(covariances.HEATMAP_METRICS)[0]))
        step(f"tab 3: first view (the 11-β grid for the curves; angles to PiSSA/MiLoRA/CorDA, layer {mid} {kinds[0]})",
             lambda: subspace.update(session, 0.9, rank, mid, kinds[0]))
        step("tab 3: β slider to 0.5", lambda: subspace.update(session, 0.5, rank, mid, kinds[0]))
        step(f"tab 3: rank slider to {2 * rank}", lambda: subspace.update(session, 0.5, 2 * rank, mid, kinds[0]))
        step(f"tab 3: another module (layer {mid} {last_kind}: its CorDA partial forwards)",
             lambda: subspace.update(session, 0.5, rank, mid, last_kind))
        step("tab 3: β = 0.73, off the slider's grid (API): one eigensolve per module",
             lambda: subspace.update(session, 0.73, rank, mid, last_kind))
        for i, method in enumerate(m for m in methods.split(",") if m):  # methods "": tabs 1-3 only
            label = f"tab 4: fine-tune {method} ({steps} steps, batch 8) + evaluation"
            if i == 0:
                label += f" (+ base model evaluation, {max_eval} prompts per set)"
            step(label, lambda m=method: list(finetune.run_plan(session, [m], "0.9", "2e-4", steps, rank, 8,
                                                                max_eval)))
    finally:
        STORE.drop(session.key)
    return rows


def main(argv=None) -> int:
    os.environ["SCLORA_RESULTS_CACHE"] = "off"  # measured cold: nothing read back from the shared results on disk
    args = parser().parse_args(argv)
    warnings.simplefilter("ignore")
    rows = run_steps(args.model, args.samples, args.max_length, args.rank, args.steps, args.methods, args.max_eval)
    table = ["| step | seconds |", "|---|---|"] + [f"| {label} | {sec:.1f} |" for label, sec in rows]
    print("\n".join(table))
    if args.out:
        from benchmarks.measure import machine

        settings = {k: v for k, v in vars(args).items() if k != "out"}
        Path(args.out).write_text(json.dumps({"settings": settings, "machine": machine(), "steps": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
