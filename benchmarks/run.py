"""Speed and memory, measured side by side in one run: ``make bench`` (or ``python -m benchmarks.run``).

Every ratio compares two things timed in this process, on the same data and device, alternating
and taking the median of repeats, so the machine's speed cancels out. Writes
``benchmarks/results.json`` and ``benchmarks/results.md`` (the README quotes the latter).

    python -m benchmarks.run                        # bundled model, the defaults below
    python -m benchmarks.run --model tiny-llama --samples 16 --quick   # smoke test
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sclora.compare import examples_from  # noqa: E402
from sclora.data import tokenize_examples  # noqa: E402
from sclora.inits import init_adapters  # noqa: E402
from sclora.models import load_model, tiny_model  # noqa: E402
from sclora.runs import library_versions  # noqa: E402
from sclora.statistics import collect_statistics, pad_batch  # noqa: E402
from sclora.subspace import DEFAULT_BETAS, reduce_covariances, sclora_subspaces, tradeoff  # noqa: E402

GOALS = {
    "covariance_vs_forward": 1.10,
    "beta_sweep_vs_forward": 1.00,
    "sclora_init_vs_corda": 0.50,
    "train_step_sclora_vs_lora": 1.03,
    "app_start_warm_s": 10.0,
}


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {"cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "python": platform.python_version(), **library_versions()}
    return info


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@torch.no_grad()
def plain_forward(model, datasets: list[list[list[int]]], batch_size: int, pad_id: int) -> None:
    """Exactly the batches collect_statistics runs (length-sorted, right-padded), without hooks."""
    device = next(model.parameters()).device
    for ids in datasets:
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for start in range(0, len(order), batch_size):
            x, mask = pad_batch([ids[i] for i in order[start : start + batch_size]], pad_id, device)
            model(input_ids=x, attention_mask=mask, use_cache=False)


def token_ids(model_tok, finetune: str, preserve: str, samples: int, max_length: int):
    _, tokenizer = model_tok
    out = []
    for spec in (finetune, preserve):
        ex = examples_from(spec)
        ex.records = ex.records[:samples]
        out.append(tokenize_examples(ex, tokenizer, max_length=max_length, loss_on="all").input_ids)
    return out


# ---------------------------------------------------------------------------- the measurements


def bench_statistics(model, tok, ft, pr, args) -> tuple[dict, object]:
    pad = tok.pad_token_id or 0
    stats_box = {}

    def cov():
        stats_box["s"] = collect_statistics(model, ft, pr, batch_size=args.batch_size, pad_token_id=pad)

    plain_forward(model, [ft[:8]], args.batch_size, pad)  # warm-up
    fwd, cv = [], []
    for _ in range(args.repeats):  # alternate, so drifts in machine speed hit both
        fwd.append(median_time(lambda: plain_forward(model, [ft, pr], args.batch_size, pad), 1))
        cv.append(median_time(cov, 1))
    stats = stats_box["s"]
    forward_s, cov_s = statistics.median(fwd), statistics.median(cv)
    sweep_s = median_time(lambda: tradeoff(stats, args.rank, DEFAULT_BETAS), 1)
    tokens = sum(map(len, ft)) + sum(map(len, pr))
    return {
        "samples_per_set": len(ft), "tokens": tokens, "forward_s": forward_s, "covariance_s": cov_s,
        "covariance_vs_forward": cov_s / forward_s,
        "beta_sweep_s": sweep_s, "beta_sweep_modules": len(stats.modules), "beta_sweep_values": len(DEFAULT_BETAS),
        "beta_sweep_vs_forward": sweep_s / forward_s,
        "stored_statistics_mib": stats.nbytes() / 2**20, "all_output_covariances_mib": stats.output_nbytes() / 2**20,
        "memory_ratio": stats.nbytes() / stats.output_nbytes(),
    }, stats


def bench_inits(model, tok, ft, pr, stats, args) -> dict:
    pad = tok.pad_token_id or 0

    def sclora_init():
        s = collect_statistics(model, ft, pr, batch_size=args.batch_size, pad_token_id=pad)
        init_adapters(model, "sclora", rank=args.rank, subspaces=sclora_subspaces(s, 0.5, args.rank))

    def corda_init():
        init_adapters(model, "corda-kpm", rank=args.rank, preserve_ids=pr)

    sc, co = [], []
    for _ in range(max(1, args.repeats - 1)):
        sc.append(median_time(sclora_init, 1))
        co.append(median_time(corda_init, 1))
    sc_s, co_s = statistics.median(sc), statistics.median(co)
    return {"sclora_init_s": sc_s, "corda_preprocess_s": co_s, "sclora_init_vs_corda": sc_s / co_s,
            "note": "SC-LoRA: statistics of both sets + subspaces + adapter weights; CorDA-KPM: PEFT's preprocessing "
                    "(one sample per forward, as its hook requires) + its init, on the preserve set"}


def bench_train_step(model, tok, ft, args) -> dict:
    from sclora.data import TokenizedExamples
    from sclora.train import build_adapter, finetune

    train = TokenizedExamples(input_ids=ft, labels=ft, n_truncated=0)
    pad = tok.pad_token_id or 0
    times: dict[str, list[float]] = {"lora": [], "sclora": []}
    stats = collect_statistics(model, ft[:16], ft[16:32] or ft[:16], pad_token_id=pad)
    for _ in range(args.repeats):
        for method in times:
            peft_model = build_adapter(model, method, rank=args.rank, beta=0.5, statistics=stats)
            finetune(peft_model, train, steps=1, lr=1e-4, batch_size=args.batch_size, pad_id=pad)  # warm-up
            result = finetune(peft_model, train, steps=args.train_steps, lr=1e-4, batch_size=args.batch_size, pad_id=pad)
            times[method].append(result.seconds / max(1, result.steps_done))
            del peft_model
    lora, sc = statistics.median(times["lora"]), statistics.median(times["sclora"])
    return {"lora_step_s": lora, "sclora_step_s": sc, "train_step_sclora_vs_lora": sc / lora}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app_start_seconds(model: str, cache: str | None, timeout: float = 300) -> float:
    """Seconds from `python app.py` to the first page served (HTTP 200 on /)."""
    port = _free_port()
    env = dict(os.environ, GRADIO_SERVER_PORT=str(port), GRADIO_ANALYTICS_ENABLED="False")
    if cache:
        env["SCLORA_CACHE"] = cache
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--model", model], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - start < timeout:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                    if r.status == 200:
                        return time.perf_counter() - start
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"app did not answer within {timeout} s")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def bench_scaling(args) -> list[dict]:
    """How covariance time and eigensolve time grow with samples, length and width."""
    rows = []
    g = torch.Generator().manual_seed(0)

    def ids(n, length, vocab):
        return [torch.randint(5, vocab, (length,), generator=g).tolist() for _ in range(n)]

    widths = [("tiny-llama", 64), ("tiny-llama", 256)]
    for arch, width in widths:
        model, _ = tiny_model(arch, hidden_size=width)
        vocab = model.get_input_embeddings().num_embeddings
        for n, length in ((32, 64), (64, 64), (128, 64), (64, 128), (64, 256)):
            ft, pr = ids(n, length, vocab), ids(n, length, vocab)
            stats_box = {}
            cov_s = median_time(lambda: stats_box.setdefault("s", collect_statistics(model, ft, pr)), 1)
            stats = stats_box["s"]
            name = next(m.name for m in stats.modules if m.kind == "q_proj")
            reduced = reduce_covariances(stats, name)
            eig_s = median_time(lambda: torch.linalg.eigh(reduced.delta(0.5)), 5)
            rows.append({"model": f"{arch} (d={width})", "samples_per_set": n, "length": length,
                         "covariance_s": cov_s, "eigh_q_proj_s": eig_s, "eigh_size": reduced.finetune.shape[0]})
    return rows


# ---------------------------------------------------------------------------- report


def markdown(res: dict) -> str:
    m, s, i, t = res["machine"], res["statistics"], res["inits"], res["train"]
    lines = [
        "# Benchmarks", "",
        f"Measured by `python -m benchmarks.run {' '.join(res['argv'])}` on {m['cpu']} ({m['cores']} cores, "
        f"{m['torch_threads']} torch threads{', GPU ' + m['gpu'] if m['gpu'] else ', no GPU'}), torch {m['torch']}, "
        f"transformers {m['transformers']}, peft {m['peft']}; model `{res['model']}`, {s['samples_per_set']} samples per "
        f"set ({s['tokens']} tokens), max length {res['max_length']}, rank {res['rank']}, batch {res['batch_size']}. "
        f"Each ratio: median of {res['repeats']} alternating runs in one process.", "",
        "| measurement | ours | reference | ratio | goal | met |", "|---|---|---|---|---|---|",
    ]

    def row(label, ours, ref, ratio, goal_key):
        goal = GOALS[goal_key]
        lines.append(f"| {label} | {ours} | {ref} | {ratio:.2f}× | ≤ {goal:.2f}× | {'yes' if ratio <= goal else '**no**'} |")

    row("covariance pass vs plain forward, same batches", f"{s['covariance_s']:.2f} s", f"{s['forward_s']:.2f} s",
        s["covariance_vs_forward"], "covariance_vs_forward")
    row(f"{s['beta_sweep_values']}-value β sweep, {s['beta_sweep_modules']} modules, r={res['rank']} vs that forward",
        f"{s['beta_sweep_s']:.2f} s", f"{s['forward_s']:.2f} s", s["beta_sweep_vs_forward"], "beta_sweep_vs_forward")
    row("SC-LoRA init (statistics + subspaces + weights) vs PEFT CorDA-KPM", f"{i['sclora_init_s']:.2f} s",
        f"{i['corda_preprocess_s']:.2f} s", i["sclora_init_vs_corda"], "sclora_init_vs_corda")
    row("training step, SC-LoRA vs plain LoRA (same rank)", f"{t['sclora_step_s']:.3f} s", f"{t['lora_step_s']:.3f} s",
        t["train_step_sclora_vs_lora"], "train_step_sclora_vs_lora")
    lines += ["",
              f"Stored statistics: {s['stored_statistics_mib']:.1f} MiB, against {s['all_output_covariances_mib']:.1f} MiB "
              f"for every module's two output covariances ({s['memory_ratio']:.2f}×).", ""]
    if "app" in res:
        a = res["app"]
        lines += [f"App start to first page: {a['warm_cache_s']:.1f} s with a warm model cache (goal ≤ "
                  f"{GOALS['app_start_warm_s']:.0f} s: {'met' if a['warm_cache_s'] <= GOALS['app_start_warm_s'] else '**not met**'}), "
                  f"{a['cold_cache_s']:.1f} s with a cold one (GGUF dequantisation).", ""]
    if res.get("scaling"):
        lines += ["## Scaling", "", "| model | samples/set | length | covariance pass | eigh of ΔCov (q_proj) | size |",
                  "|---|---|---|---|---|---|"]
        for r in res["scaling"]:
            lines.append(f"| {r['model']} | {r['samples_per_set']} | {r['length']} | {r['covariance_s']:.2f} s | "
                         f"{r['eigh_q_proj_s'] * 1e3:.2f} ms | {r['eigh_size']} |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0])
    p.add_argument("--model", default="bundled")
    p.add_argument("--finetune", default="math")
    p.add_argument("--preserve", default="knowledge")
    p.add_argument("--samples", type=int, default=128, help="samples per set")
    p.add_argument("--max-length", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--rank", type=int, default=8)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--train-steps", type=int, default=5)
    p.add_argument("--quick", action="store_true", help="skip the app start and scaling parts")
    p.add_argument("--out", default=str(ROOT / "benchmarks"))
    args = p.parse_args(argv)

    model, tok = load_model(args.model)
    ft, pr = token_ids((model, tok), args.finetune, args.preserve, args.samples, args.max_length)
    res = {"argv": argv, "model": args.model, "max_length": args.max_length, "rank": args.rank,
           "batch_size": args.batch_size, "repeats": args.repeats, "machine": machine()}
    print("statistics and β sweep ...", flush=True)
    res["statistics"], stats = bench_statistics(model, tok, ft, pr, args)
    print(json.dumps(res["statistics"], indent=1), flush=True)
    print("SC-LoRA init vs CorDA ...", flush=True)
    res["inits"] = bench_inits(model, tok, ft, pr, stats, args)
    print(json.dumps(res["inits"], indent=1), flush=True)
    print("training step ...", flush=True)
    res["train"] = bench_train_step(model, tok, ft, args)
    print(json.dumps(res["train"], indent=1), flush=True)
    if not args.quick:
        print("app start ...", flush=True)
        with tempfile.TemporaryDirectory() as cold:
            res["app"] = {"warm_cache_s": app_start_seconds(args.model, None),
                          "cold_cache_s": app_start_seconds(args.model, cold)}
        print(json.dumps(res["app"], indent=1), flush=True)
        print("scaling ...", flush=True)
        res["scaling"] = bench_scaling(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(res, indent=1))
    (out / "results.md").write_text(markdown(res))
    print(markdown(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
