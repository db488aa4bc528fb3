"""Every speed and memory figure docs/benchmarks.md states, measured in one run: ``make bench``.

    python -m benchmarks.run                             # bundled model, every measurement (run it alone)
    python -m benchmarks.run --only covariance,sweep     # some of them (merged into an earlier run's JSON)
    python -m benchmarks.run --quick                     # tiny model, seconds: checks the machinery

Measurements (``--only`` takes their names): covariance (covariance pass vs a plain forward over the
same batches), sweep (the 11-value β sweep over every module vs that forward), inits (SC-LoRA init vs
PEFT's CorDA-KPM), train (a training step of SC-LoRA vs plain LoRA, and plain LoRA under bf16 autocast),
evaluation (a run's evaluation in the Fine-tune tab vs generate() and every held-out loss), corda (CorDA's input covariance in
padded batches vs one sample per forward, as PEFT runs it), app (app start to first page, warm and cold
model cache), memory (the server's memory with and without sessions holding statistics, and the
statistics' size), walkthrough (the app's default walkthrough, tab by tab), scaling (covariance and
eigensolve time against samples, length and width on tiny models).

Compared functions run interleaved (A B A B …, ``--repeats`` each, at least 3); results.json keeps
every raw time with the median and the minimum, the machine, the library versions, the date and the
git commit. A composite step faster than its own part (e.g. the covariance pass faster than the plain
forward it contains) is measured again once and, if it still is, flagged. ``benchmarks/report.py``
renders results.md from the JSON and rewrites the marked block of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import measure, report  # noqa: E402
from benchmarks.measurements import (Context, bench_app, bench_corda, bench_evaluation, bench_inits,  # noqa: E402
                                     bench_memory, bench_scaling, bench_statistics, bench_train, bench_walkthrough,
                                     memory_probe)

MEASUREMENTS = ("covariance", "sweep", "inits", "train", "evaluation", "corda", "app", "memory", "walkthrough",
                "scaling")
QUICK_SKIPS = ("app",)  # starting the app server six times is not "seconds"
SCHEMA = 2


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0])
    p.add_argument("--only", default="", help=f"comma-separated subset of: {', '.join(MEASUREMENTS)}")
    p.add_argument("--quick", action="store_true",
                   help="tiny model and small sizes, into benchmarks/out/quick (no docs change); skips "
                        + ", ".join(QUICK_SKIPS) + " unless --only names it")
    p.add_argument("--model", default=None, help="default: bundled (tiny-llama with --quick)")
    p.add_argument("--finetune", default="math")
    p.add_argument("--preserve", default="knowledge")
    p.add_argument("--samples", type=int, default=None, help="samples per set (default 128; 16 with --quick)")
    p.add_argument("--max-length", type=int, default=None, help="default 256 (64 with --quick)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--rank", type=int, default=8)
    p.add_argument("--repeats", type=int, default=3, help="interleaved repeats of each compared function (>= 3)")
    p.add_argument("--train-steps", type=int, default=None, help="optimizer steps per timing (default 5; 2 quick)")
    p.add_argument("--corda-samples", type=int, default=None, help="preserve samples for CorDA (default 64; 8 quick)")
    p.add_argument("--memory-sessions", type=int, default=2, help="sessions holding statistics at once")
    p.add_argument("--walkthrough-samples", type=int, default=None, help="per set (default 256; 8 quick)")
    p.add_argument("--walkthrough-steps", type=int, default=None, help="fine-tune steps (default 20; 1 quick)")
    p.add_argument("--walkthrough-max-length", type=int, default=256)
    p.add_argument("--walkthrough-methods", default="lora,sclora")
    p.add_argument("--walkthrough-eval", type=int, default=None, help="held-out prompts (default 16; 1 quick)")
    p.add_argument("--out", default=None, help="folder for results.json and results.md (default benchmarks/, "
                   "benchmarks/out/quick with --quick)")
    p.add_argument("--readme", default=None, help="the page whose bench block to rewrite (default "
                   "docs/benchmarks.md; none with --quick or --out); '' for none")
    p.add_argument("--memory-probe", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    quick = args.quick
    defaults = {"model": ("bundled", "tiny-llama"), "samples": (128, 16), "max_length": (256, 64),
                "train_steps": (5, 2), "corda_samples": (64, 8), "walkthrough_samples": (256, 8),
                "walkthrough_steps": (20, 1), "walkthrough_eval": (16, 1)}
    for key, (full, small) in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, small if quick else full)
    if args.repeats < 3:
        p.error("--repeats must be at least 3")
    if args.memory_sessions < 1:
        p.error("--memory-sessions must be at least 1")
    only = [m.strip() for m in args.only.split(",") if m.strip()]
    unknown = sorted(set(only) - set(MEASUREMENTS))
    if unknown:
        p.error(f"unknown measurement(s) {', '.join(unknown)}; choose from {', '.join(MEASUREMENTS)}")
    args.selected = [m for m in MEASUREMENTS if (m in only if only else not (quick and m in QUICK_SKIPS))]
    default_out = args.out is None
    args.out = Path(args.out) if args.out else ROOT / "benchmarks" / ("out/quick" if quick else "")
    if args.readme is None:
        args.readme = "" if quick or not default_out else str(report.PAGE)
    return args


SETTINGS = ("model", "finetune", "preserve", "samples", "max_length", "batch_size", "rank", "repeats", "train_steps",
            "corda_samples", "memory_sessions", "walkthrough_samples", "walkthrough_max_length", "walkthrough_steps", "walkthrough_methods",
            "walkthrough_eval", "quick")


LOCAL_OPTIONS = ("--out", "--readme")  # where files go, not what was measured: kept out of the record


def run(args, argv: list[str]) -> dict:
    started = time.perf_counter()
    commit = measure.git_commit()
    selected = set(args.selected)
    ctx = Context(args)
    results: dict[str, dict] = {}
    steps = [("covariance", lambda: bench_statistics(ctx, selected), {"covariance", "sweep"}),
             ("inits", lambda: bench_inits(ctx), {"inits"}), ("train", lambda: bench_train(ctx), {"train"}),
             ("evaluation", lambda: bench_evaluation(ctx), {"evaluation"}),
             ("corda", lambda: bench_corda(ctx), {"corda"}), ("app", lambda: bench_app(ctx), {"app"}),
             ("memory", lambda: bench_memory(ctx), {"memory"}),
             ("walkthrough", lambda: bench_walkthrough(ctx), {"walkthrough"}),
             ("scaling", lambda: bench_scaling(ctx), {"scaling"})]
    for label, fn, names in steps:
        if not names & selected:
            continue
        print(f"{label} ...", flush=True)
        t0 = time.perf_counter()
        for name, value in fn().items():
            results[name] = dict(value, date=measure.now(), git=commit, seconds_total=time.perf_counter() - t0)
        print(f"  {time.perf_counter() - t0:.1f} s", flush=True)
    return {"schema": SCHEMA, "command": "python -m benchmarks.run" + "".join(" " + shlex.quote(a) for a in measure.without_paths(argv, LOCAL_OPTIONS)),
            "settings": {k: getattr(args, k) for k in SETTINGS}, "machine": measure.machine(),
            "versions": measure.versions(), "git": commit, "date": measure.now(),
            "duration_s": time.perf_counter() - started, "measurements": results}


def merge(old: dict | None, new: dict) -> dict:
    """Keep an earlier run's other measurements when it ran with the same settings, machine and versions."""
    same = old and old.get("schema") == SCHEMA and all(old.get(k) == new[k] for k in ("settings", "machine", "versions"))
    if not same:
        return new
    merged = dict(new, measurements={**old["measurements"], **new["measurements"]})
    merged["commands"] = sorted(set(old.get("commands", [old["command"]]) + [new["command"]]))
    return merged


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Every app-level step is measured cold: nothing read back from the shared results on disk.
    os.environ["SCLORA_RESULTS_CACHE"] = "off"
    args = parse_args(argv)
    warnings.simplefilter("ignore")
    if args.memory_probe:
        print(json.dumps(memory_probe(*json.loads(args.memory_probe))))
        return 0
    res = run(args, argv)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "results.json"
    old = json.loads(path.read_text(encoding="utf-8")) if path.exists() and args.only else None
    res = merge(old, res)
    from sclora.files import atomic_file_write

    atomic_file_write(path, lambda tmp: Path(tmp).write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8"))
    text = report.write(path, args.readme or None)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
