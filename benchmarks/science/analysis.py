"""The statistics: forgetting read at one matched fine-tune loss, paired bootstrap intervals, verdicts.

Every function takes results.json's content (settings, runs, base evaluations) and returns numbers;
nothing here runs a model or writes a file.
"""

from __future__ import annotations

import json

import numpy as np

from benchmarks.science.plan import PARTS, change, configs, finetune_loss, phases_of, runs_of

BOOTSTRAP_REPS = 2000


def front(rows: list[dict], config: dict, seed: int) -> list[dict]:
    """One (method, β, C−) run per learning rate of ``seed``, by learning rate."""
    return sorted(runs_of(rows, config, seed=seed), key=lambda r: r["lr"])


def common_target(fronts: list[list[list[dict]]]) -> float | None:
    """The held-out fine-tune loss every method's seed-mean front reaches: the middle of their overlap."""
    lows, highs = [], []
    for per_seed in fronts:  # one method: its fronts over seeds; methods not run yet are left out
        longest = max((len(f) for f in per_seed), default=0)
        per_seed = [f for f in per_seed if f and len(f) == longest]  # seeds with every learning rate done
        if longest < 2:
            continue
        means = np.mean([[finetune_loss(r) for r in f] for f in per_seed], axis=0)
        lows.append(means.min())
        highs.append(means.max())
    if not lows:
        return None
    low, high = max(lows), min(highs)
    return float((low + high) / 2) if low < high else None


def matched(runs: list[dict], target: float, values) -> np.ndarray | None:
    """``values(run)`` interpolated to fine-tune loss ``target`` between the two learning rates that
    bracket it (the first such pair by learning rate), or None when the front does not reach it."""
    losses = [finetune_loss(r) for r in runs]
    for i in range(len(runs) - 1):
        a, b = losses[i], losses[i + 1]
        if min(a, b) <= target <= max(a, b) and a != b:
            w = (a - target) / (a - b)
            return (1 - w) * values(runs[i]) + w * values(runs[i + 1])
    return None


def bootstrap(per_seed: dict[int, np.ndarray], statistic, reps: int = BOOTSTRAP_REPS, seed: int = 0):
    """Mean of ``statistic`` over seeds and its 95 % percentile interval, resampling seeds and, within
    each drawn seed, its prompts (columns of ``per_seed[s]``), both with replacement."""
    rng = np.random.default_rng(seed)
    seeds = sorted(per_seed)
    point = float(np.mean([statistic(per_seed[s]) for s in seeds]))
    draws = []
    for _ in range(reps):
        drawn = rng.choice(seeds, size=len(seeds), replace=True)
        draws.append(np.mean([statistic(per_seed[s][:, rng.integers(0, per_seed[s].shape[1], per_seed[s].shape[1])])
                              for s in drawn]))
    low, high = np.percentile(draws, [2.5, 97.5])
    return point, float(low), float(high)


def verdict(low: float, high: float) -> str:
    return "holds" if low > 0 else "does not hold" if high < 0 else "inconclusive"


# Metrics where a rise is forgetting; for the others a drop is.
LOSS_METRICS = {"answer_loss"}


def experiments(settings: dict) -> list[tuple[str, str, list[dict]]]:
    """(C− name, title, compared configs): each experiment's methods read at one matched fine-tune loss."""
    small, larger = _preserve_samples(settings)
    out = []
    safety = [("safety", 128)] if "safety" in phases_of(settings) else []
    for source, n in [("knowledge", small)] + [("knowledge", m) for m in larger] + safety:
        cminus = f"{source}-{n}"
        title = (f"knowledge, C− from {n:,} samples" if source == "knowledge" else f"safety, C− from {n} refusals")
        members = [c for c in configs(settings) if c["cminus"] in (None, cminus)]
        out.append((cminus, title, members))
    return out


def _preserve_samples(settings: dict) -> tuple[int, list[int]]:
    """N− of the first knowledge experiment, and the larger N− values that run (their phase chosen)."""
    small, *larger = settings["preserve_samples"]
    return small, larger if "knowledge-larger" in phases_of(settings) else []


def label(config: dict) -> str:
    if config["method"] == "sclora":
        return f"SC-LoRA β={config['beta']:g}"
    return {"lora": "LoRA", "pissa": "PiSSA", "corda-kpm": "CorDA-KPM"}.get(config["method"], config["method"])


def analyse(raw: dict) -> dict:
    """Target loss, matched forgetting per experiment and config, and the verdicts."""
    settings, rows, before = raw["settings"], raw["rows"], raw["before"]
    seeds = sorted(int(s) for s in before)
    exps = experiments(settings)
    all_configs = {json.dumps(c, sort_keys=True): c for _, _, members in exps for c in members}.values()
    target = common_target([[front(rows, c, s) for s in seeds]
                            for c in all_configs])
    table = []
    for cminus, title, members in exps:
        preserve_metrics = ["mc", "answer_loss", "generation"] if cminus.startswith("knowledge") else ["refusal"]
        for config in members:
            entry = {"experiment": cminus, "config": label(config)}
            for metric in preserve_metrics:
                for part in PARTS:
                    values = []
                    for s in seeds:
                        runs = front(rows, config, s)
                        if target is not None and runs:
                            v = matched(runs, target, lambda r: change(r, before[str(s)], metric, part))
                            if v is not None:
                                values.append(float(v.mean()))
                    entry[f"{metric}_{part}"] = float(np.mean(values)) if values else None
                    entry["seeds"] = len(values)
            table.append(entry)
    return {"target": target, "matched": table, "verdicts": verdicts(claims(settings), rows, before, seeds, target),
            "other_metrics": verdicts(other_metric_claims(settings), rows, before, seeds, target)}


def claims(settings: dict) -> list[dict]:
    b = settings["claim_beta"]
    small, larger = _preserve_samples(settings)
    sc = {"method": "sclora", "beta": b}
    k_small = f"knowledge-{small}"
    out = [{"claim": f"SC-LoRA (β = {b:g}) forgets less held-out knowledge than {name} at matched fine-tune loss",
            "a": {**sc, "cminus": k_small}, "b": other, "metric": "mc", "part": "heldout"}
           for name, other in (("LoRA", {"method": "lora", "beta": None, "cminus": None}),
                               ("PiSSA", {"method": "pissa", "beta": None, "cminus": None}),
                               ("CorDA-KPM", {"method": "corda-kpm", "beta": None, "cminus": k_small}))]
    for n in larger:
        out.append({"claim": f"SC-LoRA (β = {b:g}) forgets less held-out knowledge than CorDA-KPM, both with C− from "
                             f"{n:,} samples", "a": {**sc, "cminus": f"knowledge-{n}"},
                    "b": {"method": "corda-kpm", "beta": None, "cminus": f"knowledge-{n}"}, "metric": "mc",
                    "part": "heldout"})
    out.append({"claim": f"SC-LoRA (β = {b:g}) forgets less than CorDA-KPM on the very samples C− was built from",
                "a": {**sc, "cminus": k_small}, "b": {"method": "corda-kpm", "beta": None, "cminus": k_small},
                "metric": "mc", "part": "insample"})
    if 0.0 in settings["betas"]:
        out.append({"claim": f"β works as a dial: SC-LoRA forgets less held-out knowledge at β = {b:g} than at β = 0",
                    "a": {**sc, "cminus": k_small}, "b": {"method": "sclora", "beta": 0.0, "cminus": None},
                    "metric": "mc", "part": "heldout"})
    shared = sorted(set(settings["learning_rates_by_method"]["lora"]) & set(settings["learning_rates_by_method"]["sclora"]))
    if shared:
        out.append({"claim": f"SC-LoRA (β = {b:g}) fine-tunes faster than LoRA: lower held-out fine-tune loss after "
                             f"the same steps at the same learning rate ({shared[-1]:g})",
                    "a": {**sc, "cminus": k_small}, "b": {"method": "lora", "beta": None, "cminus": None},
                    "metric": "finetune_loss", "lr": shared[-1]})
    if "safety" in phases_of(settings):
        out.append({"claim": f"SC-LoRA (β = {b:g}, C− from refusals) keeps more refusals on held-out harmful prompts "
                             "than LoRA at matched fine-tune loss", "a": {**sc, "cminus": "safety-128"},
                    "b": {"method": "lora", "beta": None, "cminus": None}, "metric": "refusal", "part": "heldout"})
    return out


def other_metric_claims(settings: dict) -> list[dict]:
    """The knowledge claims again, read on generation accuracy and the answer-token loss: the claims are
    decided on multiple choice, which ignores style, but these two show what a fine-tune does to answers."""
    return [{**c, "metric": metric} for c in claims(settings) if c["metric"] == "mc"
            for metric in ("generation", "answer_loss")]


def verdicts(claim_list: list[dict], rows: list[dict], before: dict, seeds: list[int],
             target: float | None) -> list[dict]:
    """One row per claim: the difference (positive = in the claim's favour), its bootstrap CI, the verdict."""
    out = []
    for claim in claim_list:
        per_seed = {}
        # No loss every method reaches: compare the two at the middle of their own overlap instead.
        pair_target = [common_target([[front(rows, c, s) for s in seeds]
                                      for c in (claim["a"], claim["b"])])]
        for s in seeds:
            runs_a, runs_b = (front(rows, c, s) for c in (claim["a"], claim["b"]))
            if claim["metric"] == "finetune_loss":
                a = [r for r in runs_a if r["lr"] == claim["lr"]]
                b = [r for r in runs_b if r["lr"] == claim["lr"]]
                if a and b:  # rows: loss sums and token counts of B, then of A (the bootstrap keeps prompts paired)
                    per_seed[s] = np.asarray([b[0]["finetune_loss_sums"], b[0]["finetune_tokens"],
                                              a[0]["finetune_loss_sums"], a[0]["finetune_tokens"]], dtype=float)
                continue
            if not runs_a or not runs_b:
                continue
            at = target if target is not None else pair_target[0]
            if at is None:
                continue
            values = [matched(runs, at, lambda r: change(r, before[str(s)], claim["metric"], claim["part"]))
                      for runs in (runs_a, runs_b)]
            if values[0] is not None and values[1] is not None:
                sign = -1.0 if claim["metric"] in LOSS_METRICS else 1.0
                per_seed[s] = (sign * (values[0] - values[1]))[None, :]
        row = {"claim": claim["claim"], "verdict": "inconclusive", "difference": None, "ci_low": None,
               "ci_high": None, "seeds": sorted(per_seed), "metric": claim["metric"],
               "finetune_loss": None if claim["metric"] == "finetune_loss" else
               target if target is not None else pair_target[0]}
        if per_seed:
            if claim["metric"] == "finetune_loss":
                statistic = lambda m: m[0].sum() / m[1].sum() - m[2].sum() / m[3].sum()  # noqa: E731
            else:
                statistic = lambda m: m[0].mean()  # noqa: E731
            point, low, high = bootstrap(per_seed, statistic)
            row.update(difference=point, ci_low=low, ci_high=high, verdict=verdict(low, high))
        out.append(row)
    return out
