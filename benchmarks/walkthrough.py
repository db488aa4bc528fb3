"""Time the app's default walkthrough, step by step, through the same library calls the tabs make.

    python -m benchmarks.walkthrough                 # bundled model, 256 + 256 samples, rank 8
    python -m benchmarks.walkthrough --samples 64 --steps 10 --methods lora,sclora

Prints a Markdown table (the README quotes it) and writes benchmarks/walkthrough.json.
"""

from __future__ import annotations

import argparse
import json
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
    p.add_argument("--steps", type=int, default=30)
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

    from sclora.compare import examples_from, prepare_data, run_one
    from sclora.evaluate import evaluate
    from sclora.models import load_model
    from sclora.statistics import collect_statistics
    from sclora.subspace import DEFAULT_BETAS, sclora_subspace, tradeoff

    model, tok = step("load the model (warm cache)", lambda: load_model(args.model))
    data = step("load, validate, split and tokenize math + knowledge", lambda: prepare_data(
        examples_from("math"), examples_from("knowledge"), tok, max_samples=args.samples, max_length=args.max_length))
    stats = step(f"covariances, {len(data.finetune_ids)} + {len(data.preserve_ids)} samples, "
                 f"{len(model.model.layers) if hasattr(model, 'model') else '?'} layers", lambda: collect_statistics(
        model, data.finetune_ids, data.preserve_ids, pad_token_id=tok.pad_token_id or 0))
    step(f"β sweep: 11 values × {len(stats.modules)} modules, r={args.rank}",
         lambda: tradeoff(stats, args.rank, DEFAULT_BETAS))
    step("one module's subspace at a new β", lambda: sclora_subspace(stats, stats.module_names[0], 0.73, args.rank))
    before = step(f"evaluate the base model ({args.max_eval} held-out prompts per set)", lambda: evaluate(
        model, tok, data.finetune_heldout, data.preserve_heldout, finetune_metric=data.finetune_metric,
        preserve_metric=data.preserve_metric, max_length=args.max_length, max_eval=args.max_eval))
    for method in args.methods.split(","):
        step(f"fine-tune {method} ({args.steps} steps, batch 8) + evaluation", lambda m=method: run_one(
            model, tok, data, method=m, beta=0.9 if m == "sclora" else None, rank=args.rank, steps=args.steps,
            lr=2e-4, before=before, statistics=stats, max_length=args.max_length, max_eval=args.max_eval,
            model_name=args.model))
    table = ["| step | seconds |", "|---|---|"] + [f"| {label} | {sec:.1f} |" for label, sec in rows]
    print("\n".join(table))
    Path(args.out).write_text(json.dumps({"args": vars(args), "steps": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
