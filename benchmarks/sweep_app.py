"""Time the app's β grid (``explorer.shared.sweep``) solved in this thread vs in the solver processes.

    python -m benchmarks.sweep_app                       # bundled model, math + knowledge, 256 + 256 samples
    python -m benchmarks.sweep_app --samples 64 --repeats 3 --out sweep_app.json

The grid is what the β tab waits for: 11 β values × every module × every rank the sliders offer, float32,
through the shared results (kept in memory only, cleared before each timing, so every timing solves).
"in thread" is the path without solver processes (``SCLORA_SOLVER_PROCESS=off``: one thread, off the main
thread); "processes" solves in spawned processes (started before the first timing, as the server does
while the statistics are collected). Timings alternate between the two; the tables are compared too.
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
    p = argparse.ArgumentParser(prog="python -m benchmarks.sweep_app")
    p.add_argument("--model", default="bundled")
    p.add_argument("--samples", type=int, default=256)
    p.add_argument("--max-length", type=int, default=256)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default=None, help="also write the timings as JSON")
    return p


def measure_sweep(model: str, samples: int, max_length: int, repeats: int, echo: bool = True) -> dict:
    """Per path ("in thread", "processes"): every time, median, min; and the largest difference of the tables."""
    from benchmarks import measure
    from explorer import engine, shared
    from explorer.session import STORE
    from explorer.tabs import covariances, data
    from sclora.solver_process import SOLVER

    engine.set_default_model(model)
    session = STORE.get(None)
    try:
        data.load(session, model, "math", "knowledge", samples, max_length)
        stats = shared.statistics(model, session.data)
        ranks = covariances.sweep_ranks(stats)
        SOLVER.start()
        tables = {}

        def solve(path: str):
            def run():
                os.environ["SCLORA_SOLVER_PROCESS"] = "off" if path == "in thread" else "on"
                shared.RESULTS.clear_memory()  # solve it, not read it back
                start = time.perf_counter()
                tables[path] = shared.sweep(model, session.data, stats, covariances.SWEEP_BETAS, ranks)
                if echo:
                    print(f"{path}: {time.perf_counter() - start:.1f} s", flush=True)
            return run

        times = measure.interleaved({path: solve(path) for path in ("in thread", "processes")}, repeats)
    finally:
        os.environ.pop("SCLORA_SOLVER_PROCESS", None)
        STORE.drop(session.key)
    a, b = tables["in thread"], tables["processes"]
    differences = {c: float((a[c] - b[c]).abs().max()) for c in ("finetune_energy", "preserve_energy", "reward")}
    return {"times": times, "rows": len(a), "modules": len(stats.modules), "ranks": len(ranks),
            "betas": len(covariances.SWEEP_BETAS), "max_difference": differences}


def main(argv=None) -> int:
    os.environ["SCLORA_RESULTS_CACHE"] = "off"  # nothing read back from the shared results on disk
    args = parser().parse_args(argv)
    warnings.simplefilter("ignore")
    result = measure_sweep(args.model, args.samples, args.max_length, args.repeats)
    for path, t in result["times"].items():
        print(f"| {path} | median {t['median_s']:.1f} s | min {t['min_s']:.1f} s |")
    print("largest difference between the tables:", result["max_difference"])
    if args.out:
        from benchmarks.measure import machine

        Path(args.out).write_text(json.dumps({"settings": vars(args), "machine": machine(), **result}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
