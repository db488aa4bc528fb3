"""How the cost grows: ``make bench-scaling``.

    python -m benchmarks.scaling                # every point, each in its own process (run it alone; resumable)
    python -m benchmarks.scaling --quick        # tiny shapes in seconds, into benchmarks/out/quick (the test)
    python -m benchmarks.scaling --report-only  # docs/scaling.md and its plots from benchmarks/scaling.json

Four axes, one variable each: samples N per set and the length of each sample (the bundled model), and
width and depth (randomly initialised Llama shapes built from configs in code, from the bundled width up
to a 1B-parameter shape). At every point, in one process and one run:

- the statistics pass against a plain forward over the same batches (interleaved repeats), and its peak
  memory above what the process held before it, sampled from the resident memory during every pass (the
  median over the passes: the allocator's slack alone moves one pass's peak by up to 2x);
- the prediction ``sclora.cost`` prints before a pass starts (time on this device, memory), against both;
- the β sweep (11 values, every module), the SC-LoRA initialisation (the statistics pass + subspaces +
  adapters) against PEFT's CorDA-KPM (its own per-sample pass + its init; each timed once), and one
  training step of SC-LoRA against one of plain LoRA of the same rank.

Random token ids of exactly the stated length stand for samples: the cost depends on shapes, not words.
Every point is saved to the JSON the moment it is measured; a point already there is not measured again.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import measure  # noqa: E402

OUT = ROOT / "benchmarks" / "scaling.json"
PAGE = ROOT / "docs" / "scaling.md"
SCHEMA = 1
BUNDLED_SHAPE = {"hidden": 576, "intermediate": 1536, "layers": 30}


def llama_shape(hidden: int, layers: int, intermediate: int | None = None, vocab: int = 49152) -> dict:
    """A Llama shape: 64-wide heads and grouped key/value heads, as SmolLM2 and Llama 3 have."""
    heads = hidden // 64
    kv = next(k for k in (heads // 4, heads // 3, heads) if k >= 1 and heads % k == 0)
    return {"hidden": hidden, "layers": layers, "intermediate": intermediate or 4 * hidden, "heads": heads,
            "kv_heads": kv, "vocab": vocab}


def plan(quick: bool) -> list[dict]:
    """Every point: its axis, the model (``bundled`` or a Llama shape), samples per set, length, batch size."""
    if quick:
        tiny = {"hidden": 64, "layers": 2, "intermediate": 128, "heads": 4, "kv_heads": 2, "vocab": 256}
        return ([{"axis": "samples", "model": tiny, "samples": n, "length": 16} for n in (4, 8)]
                + [{"axis": "length", "model": tiny, "samples": 4, "length": n} for n in (16, 32)]
                + [{"axis": "width", "model": {**tiny, "hidden": h, "intermediate": 2 * h}, "samples": 4, "length": 16}
                   for h in (64, 128)]
                + [{"axis": "depth", "model": {**tiny, "layers": n}, "samples": 4, "length": 16} for n in (1, 2)])
    # Sized for about 45 minutes on a 2-core CPU: the bundled model reads about 450 tokens a second there.
    points = ([{"axis": "samples", "model": "bundled", "samples": n, "length": 128} for n in (8, 16, 32)]
              + [{"axis": "length", "model": "bundled", "samples": 8, "length": n} for n in (64, 128, 256)]
              + [{"axis": "width", "model": llama_shape(h, 4), "samples": 8, "length": 128} for h in (576, 1024, 2048)]
              + [{"axis": "depth", "model": llama_shape(2048, n), "samples": 8, "length": 128} for n in (4, 8, 16)])
    # PEFT's CorDA-KPM ran this 23 GB machine out of memory at the 1B shape (killed twice, in its per-layer
    # inverses and SVDs), so it is not run there; SC-LoRA's initialisation is.
    for p in points:
        p["corda"] = not (isinstance(p["model"], dict) and p["model"]["hidden"] >= 2048 and p["model"]["layers"] >= 16)
    return points


def point_key(point: dict) -> str:
    return json.dumps({k: point[k] for k in ("model", "samples", "length")}, sort_keys=True)


# --------------------------------------------------------------------------- one point, in its own process


class PeakMemory:
    """The process's largest resident memory while the block runs, sampled every 5 ms (Linux /proc)."""

    def __enter__(self):
        self.peak, self._stop = measure.rss_mib(), threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, measure.rss_mib())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, measure.rss_mib())


def release_free_memory() -> None:
    """Hand freed heap memory back to the system, so a later peak is not hidden by memory already held."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the peak may read low
        pass


def build_model(model):
    import torch

    if model == "bundled":
        from sclora.models import load_model

        return load_model("bundled")[0]
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(hidden_size=model["hidden"], intermediate_size=model["intermediate"],
                         num_hidden_layers=model["layers"], num_attention_heads=model["heads"],
                         num_key_value_heads=model["kv_heads"], vocab_size=model["vocab"], tie_word_embeddings=True)
    torch.manual_seed(0)
    with torch.device("meta"):
        meta = LlamaForCausalLM(config)
    built = meta.to_empty(device="cpu")  # random weights drawn directly: HF's own init is slow at 1B
    with torch.no_grad():
        for p in built.parameters():
            if p.dim() > 1:
                p.normal_(0.0, 0.02)
            else:  # the norms' scales
                p.fill_(1.0)
    built.model.rotary_emb = type(built.model.rotary_emb)(config=config)  # its buffers: left empty on meta
    return built.eval()


def times(funcs: dict, repeats: int) -> dict:
    """Interleaved timings (A B A B …); ``repeats`` may be 1 for the largest shapes, where one pass is minutes."""
    if repeats >= 3:
        return measure.interleaved(funcs, repeats)
    out = {name: [] for name in funcs}
    for _ in range(repeats):
        for name, fn in funcs.items():
            out[name].append(measure.timed(fn))
    return {name: measure.summary(t) for name, t in out.items()}


def measure_point(point: dict, batch_size: int, rank: int) -> dict:
    import resource

    import numpy as np
    import torch

    from benchmarks.measurements import peft_corda_adapter, plain_forward
    from sclora.cost import statistics_cost
    from sclora.data import TokenizedExamples
    from sclora.inits import init_adapters
    from sclora.statistics import collect_statistics, model_nbytes, stored_widths
    from sclora.subspace import DEFAULT_BETAS, sclora_subspaces, tradeoff
    from sclora.train import build_adapter, finetune

    started = time.perf_counter()
    model = build_model(point["model"])
    params = sum(p.numel() for p in model.parameters())
    repeats = 3 if params < 5e8 else 1
    vocab = model.get_input_embeddings().num_embeddings
    g = torch.Generator().manual_seed(0)
    ft, pr = ([torch.randint(5, vocab, (point["length"],), generator=g).tolist() for _ in range(point["samples"])]
              for _ in range(2))
    widths = stored_widths(model, None, ft[0])
    t0 = time.perf_counter()
    cost = statistics_cost(model, ft, pr, widths, batch_size=batch_size)
    prediction_s = time.perf_counter() - t0

    box, peaks = {}, []

    def covariance():
        """One statistics pass, its peak memory above what the process held before it recorded."""
        box.pop("stats", None)
        release_free_memory()
        before = measure.rss_mib()
        with PeakMemory() as peak:
            box["stats"] = collect_statistics(model, ft, pr, batch_size=batch_size)
        peaks.append(peak.peak - before)

    first_pass = measure.timed(covariance)
    statistics_mib = box["stats"].nbytes() / 2**20

    passes = times({"forward": lambda: plain_forward(model, [ft, pr], batch_size, 0), "covariance": covariance},
                   repeats)
    stats = box["stats"]
    sweep = times({"sweep": lambda: tradeoff(stats, rank, DEFAULT_BETAS)}, repeats)["sweep"]

    def sclora_adapters():
        init_adapters(model, "sclora", rank=rank, subspaces=sclora_subspaces(stats, 0.5, rank))

    # Once each: PEFT's CorDA-KPM takes minutes per point (one forward per sample, then an inverse and an SVD
    # per layer), far from the goal's boundary.
    inits = times({"sclora_subspaces_and_adapters": sclora_adapters,
                   **({"corda_kpm_init": lambda: peft_corda_adapter(model, "corda-kpm", rank, pr)}
                      if point.get("corda", True) else {})}, 1)

    train = TokenizedExamples(input_ids=ft, labels=ft, n_truncated=0)
    step_batch = min(4, len(ft))

    def steps_of(methods):
        """A warmed-up training step of each method, interleaved; each adapter is a copy of the model."""
        adapters = {m: build_adapter(model, m, rank=rank, beta=0.5, statistics=stats) for m in methods}

        def step(method):
            return lambda: finetune(adapters[method], train, steps=1, lr=1e-4, batch_size=step_batch)

        for method in adapters:
            step(method)()
        return times({f"{m}_step": step(m) for m in methods}, repeats)

    # Two copies of a 1B model besides the base do not fit beside everything else: one at a time there.
    steps = (steps_of(("lora", "sclora")) if repeats >= 3
             else {**steps_of(("lora",)), **steps_of(("sclora",))})
    covariance_s = passes["covariance"]["median_s"]
    return {**point, "batch_size": batch_size, "rank": rank, "params": params, "model_mib": model_nbytes(model) / 2**20,
            "tokens": cost.tokens, "widest_stored": max(widths), "repeats": repeats,
            "times": {**passes, "sweep": sweep, **inits, **steps}, "first_pass_s": first_pass,
            "sclora_init_s": covariance_s + inits["sclora_subspaces_and_adapters"]["median_s"],
            # The allocator's slack makes one pass's peak vary up to 2x between identical passes: the median.
            "memory": {"measured_extra_mib": float(np.median(peaks)), "pass_peaks_mib": peaks,
                       "statistics_mib": statistics_mib,
                       "process_peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024},
            "predicted": {"seconds": cost.seconds, "extra_mib": cost.extra_bytes / 2**20,
                          "statistics_mib": cost.statistics_bytes / 2**20,
                          "activation_mib": cost.activation_bytes / 2**20, "probe_s": cost.probe_seconds,
                          "prediction_s": prediction_s},
            "seconds_total": time.perf_counter() - started}


# --------------------------------------------------------------------------- the run


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m benchmarks.scaling", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny shapes, into benchmarks/out/quick (no docs change)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--rank", type=int, default=8)
    p.add_argument("--axes", default="samples,length,width,depth", help="which axes to measure")
    p.add_argument("--out", type=Path, default=None, help="the JSON (default benchmarks/scaling.json)")
    p.add_argument("--page", type=Path, default=None, help="the rendered page (default docs/scaling.md)")
    p.add_argument("--report-only", action="store_true")
    p.add_argument("--point", default=None, help=argparse.SUPPRESS)  # one point, measured in this process
    args = p.parse_args(argv)
    quick_dir = ROOT / "benchmarks" / "out" / "quick"
    args.out = args.out or (quick_dir / "scaling.json" if args.quick else OUT)
    args.page = args.page or (quick_dir / "scaling.md" if args.quick else PAGE)
    return args


def run_point(point: dict, args) -> dict:
    """Measure ``point`` in a fresh process: its memory peak is its own, and one point's memory never holds
    another's."""
    command = [sys.executable, "-m", "benchmarks.scaling", "--point", json.dumps(point),
               "--batch-size", str(args.batch_size), "--rank", str(args.rank)]
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"point {point_key(point)} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    import warnings

    from benchmarks.scaling_report import write_report
    from sclora.files import atomic_file_write

    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.point:
        warnings.simplefilter("ignore")
        print(json.dumps(measure_point(json.loads(args.point), args.batch_size, args.rank)))
        return 0
    settings = {"batch_size": args.batch_size, "rank": args.rank, "quick": args.quick}
    raw = {"schema": SCHEMA, "settings": settings, "points": []}
    if args.out.exists():
        saved = json.loads(args.out.read_text(encoding="utf-8"))
        if saved.get("settings") == settings and saved.get("schema") == SCHEMA:
            raw = saved
    if not args.report_only:
        raw.update(machine=measure.machine(), versions=measure.versions(),
                   command=" ".join(["python -m benchmarks.scaling", *measure.without_paths(argv, ("--out", "--page"))]))
        axes = {a.strip() for a in args.axes.split(",")}
        for point in plan(args.quick):
            measured = {(p["axis"], point_key(p)): p for p in raw["points"]}
            if point["axis"] not in axes or (point["axis"], point_key(point)) in measured:
                continue
            same = next((p for (_, key), p in measured.items() if key == point_key(point)), None)
            if same is not None:  # a point two axes share (e.g. the widest shape at the smallest depth)
                raw["points"].append({**same, "axis": point["axis"]})
            else:
                print(f"{point['axis']}: {point_key(point)} ...", file=sys.stderr, flush=True)
                result = run_point(point, args)
                raw["points"].append(dict(result, date=measure.now(), git=measure.git_commit()))
                print(f"  {result['seconds_total']:.0f} s", file=sys.stderr, flush=True)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            atomic_file_write(args.out, lambda tmp: Path(tmp).write_text(json.dumps(raw, indent=1) + "\n",
                                                                          encoding="utf-8"))
    print(write_report(raw, args.page))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
