"""What ``make bench`` measures, one function per measurement (``benchmarks/run.py`` runs and records them).

Each ``bench_*`` function takes the shared :class:`Context` and returns ``{name: entry}`` for results.json;
timings come from ``benchmarks.measure`` (interleaved repeats, the composite-faster-than-its-part check).
Nothing here renders: ``benchmarks/report.py`` turns the JSON into results.md and the docs' block.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchmarks import measure

ROOT = Path(__file__).resolve().parents[1]


class Context:
    """The model, the token ids and the settings, loaded once and shared by the measurements."""

    def __init__(self, args):
        from sclora.models import load_model

        self.args = args
        self.model, self.tok = load_model(args.model)
        self.pad = self.tok.pad_token_id or 0
        self.ft, self.pr = token_ids(self.tok, args.finetune, args.preserve, args.samples, args.max_length)
        self.stats = None
        self.times: dict[str, dict] = {}  # every timed entry by name, for checks across measurements

    def collect(self):
        from sclora.statistics import collect_statistics

        self.stats = collect_statistics(self.model, self.ft, self.pr, batch_size=self.args.batch_size,
                                        pad_token_id=self.pad)
        return self.stats


def token_ids(tokenizer, finetune: str, preserve: str, samples: int, max_length: int):
    from sclora.compare import examples_from
    from sclora.tokens import tokenize_examples

    out = []
    for spec in (finetune, preserve):
        ex = examples_from(spec)
        ex.records = ex.records[:samples]
        out.append(tokenize_examples(ex, tokenizer, max_length=max_length, loss_on="all").input_ids)
    return out


def plain_forward(model, datasets: list[list[list[int]]], batch_size: int, pad_id: int) -> None:
    """Exactly the batches collect_statistics runs (length-sorted, right-padded), without hooks."""
    import torch

    from sclora.statistics import pad_batch

    device = next(model.parameters()).device
    with torch.no_grad():
        for ids in datasets:
            order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
            for start in range(0, len(order), batch_size):
                x, mask = pad_batch([ids[i] for i in order[start: start + batch_size]], pad_id, device)
                model(input_ids=x, attention_mask=mask, use_cache=False)


# ---------------------------------------------------------------------------- the measurements


def bench_statistics(ctx: Context, selected: set[str]) -> dict:
    """covariance and sweep: forward, covariance pass and (when selected) β sweep, interleaved."""
    import torch

    from sclora.subspace import DEFAULT_BETAS, tradeoff

    a = ctx.args
    plain_forward(ctx.model, [ctx.ft[:a.batch_size]], a.batch_size, ctx.pad)  # warm-up
    funcs = {"forward": lambda: plain_forward(ctx.model, [ctx.ft, ctx.pr], a.batch_size, ctx.pad),
             "covariance": ctx.collect}
    if "sweep" in selected:
        funcs["sweep"] = lambda: tradeoff(ctx.stats, a.rank, DEFAULT_BETAS)
        # What the β tab computes: every rank at once, in float32 (sclora.subspace.tradeoff).
        funcs["sweep_app"] = lambda: tradeoff(ctx.stats, list(range(1, min(128, min(m.d_out for m in ctx.stats.modules))
                                                                    + 1)), DEFAULT_BETAS, dtype=torch.float32)
    times = measure.interleaved(funcs, a.repeats)
    check = measure.check_part(times, "covariance", "forward", remeasure=lambda: measure.interleaved(
        {"forward": funcs["forward"], "covariance": funcs["covariance"]}, a.repeats))
    ctx.times.update(times)
    stats = ctx.stats
    out = {"covariance": {"times": {k: times[k] for k in ("forward", "covariance")}, "checks": [check],
                          "tokens": sum(map(len, ctx.ft)) + sum(map(len, ctx.pr)),
                          "samples": [len(ctx.ft), len(ctx.pr)], "modules": len(stats.modules),
                          "stored_statistics_mib": stats.nbytes() / 2**20,
                          "all_output_covariances_mib": stats.output_nbytes() / 2**20}}
    if "sweep" in selected:
        out["sweep"] = {"times": {"sweep": times["sweep"], "sweep_app": times["sweep_app"], "forward": times["forward"]},
                        "betas": len(DEFAULT_BETAS), "modules": len(stats.modules), "rank": a.rank}
    return out


def bench_inits(ctx: Context) -> dict:
    """SC-LoRA init (statistics of both sets + subspaces + adapter weights) vs PEFT's CorDA-KPM."""
    from sclora.inits import init_adapters
    from sclora.subspace import sclora_subspaces

    a = ctx.args

    def sclora_init():
        stats = ctx.collect()
        init_adapters(ctx.model, "sclora", rank=a.rank, subspaces=sclora_subspaces(stats, 0.5, a.rank))

    def corda_init():
        peft_corda_adapter(ctx.model, "corda-kpm", a.rank, ctx.pr)

    times = measure.interleaved({"sclora_init": sclora_init, "corda_kpm_init": corda_init}, a.repeats)
    checks = []
    if "covariance" in ctx.times:  # the SC-LoRA init contains a covariance pass
        both = {"sclora_init": times["sclora_init"], "covariance": ctx.times["covariance"]}
        checks.append(measure.check_part(both, "sclora_init", "covariance", remeasure=lambda: measure.interleaved(
            {"covariance": ctx.collect, "sclora_init": sclora_init}, a.repeats)))
        times["sclora_init"] = both["sclora_init"]
    return {"inits": {"times": times, "checks": checks,
                      "note": "SC-LoRA: statistics of both sets (batched) + subspaces (β = 0.5) + adapter weights; "
                              "CorDA-KPM: PEFT's preprocessing on the preserve set (one sample per forward, as its "
                              "hook requires) + its init"}}


def bench_train(ctx: Context) -> dict:
    """Seconds per optimizer step, SC-LoRA vs plain LoRA of the same rank (adapters built outside the timing)."""
    from sclora.data import TokenizedExamples
    from sclora.statistics import collect_statistics
    from sclora.train import build_adapter, finetune

    a = ctx.args
    train = TokenizedExamples(input_ids=ctx.ft, labels=ctx.ft, n_truncated=0)
    stats = ctx.stats or collect_statistics(ctx.model, ctx.ft[:16], ctx.pr[:16], pad_token_id=ctx.pad)
    adapters = {m: build_adapter(ctx.model, m, rank=a.rank, beta=0.5, statistics=stats) for m in ("lora", "sclora")}
    for m in adapters:  # warm-up
        finetune(adapters[m], train, steps=1, lr=1e-4, batch_size=a.batch_size, pad_id=ctx.pad)

    def step_seconds(m):
        result = finetune(adapters[m], train, steps=a.train_steps, lr=1e-4, batch_size=a.batch_size, pad_id=ctx.pad)
        return result.seconds / max(1, result.steps_done)

    def bf16_step_seconds():  # LoRA under bf16 autocast on this device (what the CPU's bf16 units would give)
        import torch

        with torch.autocast(ctx.model.device.type, dtype=torch.bfloat16):
            return step_seconds("lora")

    times = measure.interleaved({"lora_step": lambda: "lora", "sclora_step": lambda: "sclora",
                                 "lora_step_bf16": lambda: None}, a.repeats,
                                clock=lambda fn: bf16_step_seconds() if fn() is None else step_seconds(fn()))
    return {"train": {"times": times, "steps_per_repeat": a.train_steps, "batch_size": a.batch_size}}


def bench_evaluation(ctx: Context) -> dict:
    """One run's held-out evaluation as the Fine-tune tab does it, against the same questions answered with
    ``generate()`` a training batch at a time and the losses of every held-out record (the plain way)."""
    from explorer.tabs import finetune as tab
    from explorer.tabs.data import DEFAULT_LENGTH
    from sclora.compare import evaluate_data, prepare_data
    from sclora.data import bundled_dataset
    from sclora.evaluate import MAX_NEW_TOKENS, heldout_loss
    from sclora.generation import generate
    from sclora.tokens import qa_pairs

    # The tab's own sequence length: a shorter one can cut a held-out record before its answer.
    data = prepare_data(bundled_dataset("math"), bundled_dataset("knowledge"), ctx.tok, max_samples=8,
                        max_length=DEFAULT_LENGTH)
    n = tab.DEFAULT_MAX_EVAL

    def tab_evaluation():
        evaluate_data(ctx.model, ctx.tok, data, max_length=DEFAULT_LENGTH, batch_size=tab.DEFAULT_BATCH,
                      max_eval=n, max_loss=tab.DEFAULT_MAX_LOSS)

    def plain_evaluation():
        for examples, metric in ((data.finetune_heldout, "math"), (data.preserve_heldout, "exact")):
            heldout_loss(ctx.model, ctx.tok, examples, max_length=DEFAULT_LENGTH, batch_size=tab.DEFAULT_BATCH)
            generate(ctx.model, ctx.tok, [p for p, _ in qa_pairs(examples)[:n]], MAX_NEW_TOKENS[metric],
                     tab.DEFAULT_BATCH)

    times = measure.interleaved({"tab": tab_evaluation, "plain": plain_evaluation}, ctx.args.repeats)
    return {"evaluation": {"times": times, "answered": n, "loss_records": tab.DEFAULT_MAX_LOSS,
                           "heldout": [len(data.finetune_heldout), len(data.preserve_heldout)],
                           "batch_size": tab.DEFAULT_BATCH}}


def peft_corda_adapter(model, method: str, rank: int, samples: list[list[int]]):
    """CorDA the way PEFT's docs run it: its own hooks, one sample per forward call, then its init.
    The reference the batched covariances of ``sclora.inits`` are measured and tested against."""
    import copy

    import torch
    from peft import get_peft_model
    from peft.tuners.lora.corda import preprocess_corda

    from sclora.inits import lora_config
    from sclora.modules import target_names

    reference = copy.deepcopy(model).eval()
    config = lora_config(method, target_names(reference), rank, float(rank), reference)
    device = next(reference.parameters()).device
    with torch.no_grad():
        preprocess_corda(reference, config,
                         run_model=lambda: [reference(input_ids=torch.tensor([ids], device=device)) for ids in samples])
        return get_peft_model(reference, config)


def adapter_deltas(peft_model) -> dict:
    """Every adapted layer's B·A, float64 on the CPU."""
    return {name: (m.lora_B["default"].weight @ m.lora_A["default"].weight).double().cpu()
            for name, m in peft_model.named_modules() if hasattr(m, "lora_B") and "default" in m.lora_B}


def bench_corda(ctx: Context) -> dict:
    """A CorDA-KPM adapter: input covariances in padded batches, handed to PEFT, vs PEFT's own per-sample pass."""
    from sclora.inits import init_adapters

    a = ctx.args
    samples = ctx.pr[:a.corda_samples]
    box = {}

    def batched():
        box["batched"] = init_adapters(ctx.model, "corda-kpm", rank=a.rank, preserve_ids=samples)

    def per_sample():
        box["per_sample"] = peft_corda_adapter(ctx.model, "corda-kpm", a.rank, samples)

    times = measure.interleaved({"batched": batched, "per_sample": per_sample}, a.repeats)
    peft = adapter_deltas(box["per_sample"])

    def difference(other) -> dict:  # relative differences of the layers' B·A from PEFT's
        values = sorted(((other[n] - peft[n]).norm() / peft[n].norm()).item() for n in peft)
        return {"largest": values[-1], "median": values[len(values) // 2]}

    # KPM keeps W0·C's smallest directions, which float32 rounding alone moves: PEFT's own pass with the
    # samples in reverse order is the yardstick for the batched difference.
    reversed_order = adapter_deltas(peft_corda_adapter(ctx.model, "corda-kpm", a.rank, samples[::-1]))
    return {"corda": {"times": times, "samples": len(samples), "batch_size": 16,
                      "relative_difference": difference(adapter_deltas(box["batched"])),
                      "order_difference": difference(reversed_order)}}


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


def bench_app(ctx: Context) -> dict:
    """App start to first page: warm model cache (this process loaded it) and a cold, empty one."""
    a = ctx.args

    def cold():
        with tempfile.TemporaryDirectory() as folder:
            return app_start_seconds(a.model, folder)

    funcs = {"warm_cache": lambda: app_start_seconds(a.model, None), "cold_cache": cold}
    times = measure.interleaved(funcs, a.repeats, clock=lambda fn: fn())
    checks = []
    if a.model == "bundled":  # its cold start = the warm one + dequantising the GGUF into the cache
        checks.append(measure.check_part(times, "cold_cache", "warm_cache", remeasure=lambda: measure.interleaved(
            funcs, a.repeats, clock=lambda fn: fn())))
    return {"app": {"times": times, "checks": checks}}


def memory_probe(model: str, finetune: str, preserve: str, samples: int, max_length: int, sessions: int) -> dict:
    """In a fresh process: the server's resident memory around sessions holding statistics.

    Baseline: after one session's statistics were computed, the session dropped and the shared results
    cleared (model weights paged in, the libraries' buffers allocated). Then ``sessions`` sessions with the
    same data (they share one statistics object), then ``sessions`` sessions with different data (each
    its own, N − 8·i samples), then all dropped, then the shared results cleared too.
    """
    from explorer import engine, shared
    from explorer.session import STORE, release_memory
    from explorer.tabs import covariances, data

    engine.set_default_model(model)
    engine.get_model(model)
    loaded = measure.rss_mib()

    def session_with_statistics(n: int):
        s = STORE.get(None)
        data.load(s, model, finetune, preserve, n, max_length)
        covariances.compute(s)
        return s

    def drop_all(held) -> None:
        for session in held:
            STORE.drop(session.key)
        held.clear()
        release_memory()

    drop_all([session_with_statistics(samples)])
    shared.RESULTS.clear_memory()
    release_memory()
    baseline = measure.rss_mib()
    held = [session_with_statistics(samples) for _ in range(sessions)]
    with_shared = measure.rss_mib()
    drop_all(held)
    held = [session_with_statistics(max(8, samples - 8 * i)) for i in range(sessions)]
    stats_mib = sum(s.statistics.nbytes() for s in held) / 2**20
    with_sessions = measure.rss_mib()
    drop_all(held)
    after_drop = measure.rss_mib()
    shared.RESULTS.clear_memory()
    release_memory()
    return {"model_loaded_mib": loaded, "baseline_mib": baseline, "with_shared_sessions_mib": with_shared,
            "with_sessions_mib": with_sessions, "after_drop_mib": after_drop, "after_cache_cleared_mib":
            measure.rss_mib(), "sessions": sessions, "statistics_mib": stats_mib}


def bench_memory(ctx: Context) -> dict:
    a = ctx.args
    spec = [a.model, a.finetune, a.preserve, a.samples, a.max_length, a.memory_sessions]
    proc = subprocess.run([sys.executable, "-m", "benchmarks.run", "--memory-probe", json.dumps(spec)], cwd=ROOT,
                          capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"memory probe failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["per_session_mib"] = (result["with_sessions_mib"] - result["baseline_mib"]) / a.memory_sessions
    result["samples"] = a.samples
    return {"memory": result}


def bench_walkthrough(ctx: Context) -> dict:
    from benchmarks.walkthrough import run_steps

    a = ctx.args
    steps = run_steps(a.model, a.walkthrough_samples, a.walkthrough_max_length, a.rank, a.walkthrough_steps,
                      a.walkthrough_methods, a.walkthrough_eval, echo=False)
    return {"walkthrough": {"steps": [[label, sec] for label, sec in steps], "samples": a.walkthrough_samples,
                            "max_length": a.walkthrough_max_length, "train_steps": a.walkthrough_steps, "methods": a.walkthrough_methods,
                            "max_eval": a.walkthrough_eval, "total_s": sum(sec for _, sec in steps)}}


def bench_scaling(ctx: Context) -> dict:
    """How covariance time and eigensolve time grow with samples, length and width (tiny models)."""
    import torch

    from sclora.models import tiny_model
    from sclora.statistics import collect_statistics
    from sclora.subspace import reduce_covariances

    g = torch.Generator().manual_seed(0)
    rows = []
    grid = ((16, 16),) if ctx.args.quick else ((32, 64), (64, 64), (128, 64), (64, 128), (64, 256))
    for width in ((64,) if ctx.args.quick else (64, 256)):
        model, _ = tiny_model("tiny-llama", hidden_size=width)
        vocab = model.get_input_embeddings().num_embeddings
        for n, length in grid:
            ft, pr = ([torch.randint(5, vocab, (length,), generator=g).tolist() for _ in range(n)] for _ in range(2))
            box = {}
            cov = measure.timed(lambda: box.setdefault("s", collect_statistics(model, ft, pr)))
            name = next(m.name for m in box["s"].modules if m.kind == "q_proj")
            reduced = reduce_covariances(box["s"], name)
            eig = measure.summary([measure.timed(lambda: torch.linalg.eigh(reduced.delta(0.5))) for _ in range(5)])
            rows.append({"model": f"tiny-llama (d={width})", "samples_per_set": n, "length": length,
                         "covariance_s": cov, "eigh_q_proj": eig, "eigh_size": reduced.finetune.shape[0]})
    return {"scaling": {"rows": rows}}
