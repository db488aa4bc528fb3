"""Time the app's default walkthrough, step by step, through the tabs' own functions (no browser).

    python -m benchmarks.walkthrough                 # bundled model, 256 + 256 samples, rank 8
    python -m benchmarks.walkthrough --samples 64 --steps 10 --methods lora,sclora
    python -m benchmarks.walkthrough --model tiny-llama --samples 16 --steps 2 --max-eval 2 --out /tmp/w.json

Each step calls what the tab's button or slider calls (explorer.tabs.*), with the session caches the
app keeps, so "β slider to 0.5" is what a user waits for after the first view. Prints a Markdown
table (the README quotes it) and writes benchmarks/walkthrough.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.walkthrough")
    p.add_argument("--model", default="bundled")
    p.add_argument("--samples", type=int, default=256)
    p.add_argument("--max-length", type=int, default=256)
    p.add_argument("--rank", type=int, default=8)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--methods", default="lora,sclora")
    p.add_argument("--max-eval", type=int, default=16)
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "walkthrough.json"))
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")
    rows: list[tuple[str, float]] = []

    def step(label, fn):
        start = time.perf_counter()
        value = fn()
        rows.append((label, time.perf_counter() - start))
        print(f"{label}: {rows[-1][1]:.1f} s", flush=True)
        return value

    import torch

    from explorer import engine
    from explorer.session import STORE
    from explorer.tabs import covariances, data, finetune, subspace

    engine.set_default_model(args.model)
    step("load the model (warm cache)", lambda: engine.get_model(args.model))
    session = STORE.get(None)
    step("tab 1: load, validate, split and tokenize math + knowledge", lambda: data.load(
        session, args.model, "math", "knowledge", args.samples, args.max_length))
    n_f, n_p = len(session.data.finetune_ids), len(session.data.preserve_ids)
    step(f"tab 2: covariances, {n_f} + {n_p} samples", lambda: covariances.compute(session))
    layers, kinds = covariances.layers_and_kinds(session)
    mid, last_kind = layers[len(layers) // 2], kinds[-1]
    n_mod = len(session.statistics.modules)
    step(f"tab 2: heatmap at β = 0.9 (one eigensolve per module: {n_mod}, every rank at once)",
         lambda: covariances.heatmap_figure(session, 0.9, args.rank, list(covariances.HEATMAP_METRICS)[0]))
    step(f"tab 3: first view (the 11-β grid for the curves; angles to PiSSA/MiLoRA/CorDA, layer {mid} {kinds[0]})",
         lambda: subspace.update(session, 0.9, args.rank, mid, kinds[0]))
    step("tab 3: β slider to 0.5", lambda: subspace.update(session, 0.5, args.rank, mid, kinds[0]))
    step(f"tab 3: rank slider to {2 * args.rank}", lambda: subspace.update(session, 0.5, 2 * args.rank, mid, kinds[0]))
    step(f"tab 3: another module (layer {mid} {last_kind}: its CorDA partial forwards)",
         lambda: subspace.update(session, 0.5, args.rank, mid, last_kind))
    step(f"tab 3: β = 0.73, off the slider's grid (API): one eigensolve per module",
         lambda: subspace.update(session, 0.73, args.rank, mid, last_kind))
    for i, method in enumerate(m for m in args.methods.split(",") if m):  # --methods "": tabs 1-3 only
        label = f"tab 4: fine-tune {method} ({args.steps} steps, batch 8) + evaluation"
        if i == 0:
            label += f" (+ base model evaluation, {args.max_eval} prompts per set)"
        step(label, lambda m=method: list(finetune.run_plan(session, [m], "0.9", "2e-4", args.steps, args.rank, 8,
                                                            args.max_eval)))
    table = ["| step | seconds |", "|---|---|"] + [f"| {label} | {sec:.1f} |" for label, sec in rows]
    print("\n".join(table))
    machine = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, " + (
        torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU")
    Path(args.out).write_text(json.dumps({"args": vars(args), "machine": machine, "steps": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
