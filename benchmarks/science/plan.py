"""What the protocol runs and what it keeps of each run.

The settings (every flag that decides a number), the configurations in the order they run and their
phases, the key that names a run in results.json, and how a run's record is read (its fine-tune loss,
the change of a metric, the runs of one configuration). Nothing here loads a model.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

RESIDUAL = ("pissa", "corda-kpm", "sclora")
PARTS = ("heldout", "insample")
PHASES = ("knowledge-small", "safety", "knowledge-larger")


def _floats(text: str) -> list[float]:
    return [float(x) for x in str(text).split(",") if x.strip()]


def _ints(text: str) -> list[int]:
    return [int(x) for x in str(text).split(",") if x.strip()]


def settings_of(args) -> dict:
    """What decides the numbers (also the contract of results.json)."""
    lrs = {"lora": _floats(args.lrs_lora), "residual": _floats(args.lrs_residual)}
    if args.claim_beta not in _floats(args.betas) or min(map(len, lrs.values())) < 2:
        raise SystemExit("--claim-beta must be one of --betas, and every method needs two learning rates or more "
                         "(forgetting is interpolated between them).")
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    if not phases or not set(phases) <= set(PHASES):
        raise SystemExit(f"--phases takes one or more of {', '.join(PHASES)}, got {args.phases!r}.")
    # Keys with their default value are left out, so results.json files made before the key existed resume.
    optional = {"phases": [p for p in PHASES if p in phases]} if set(phases) != set(PHASES) else {}
    return {"model": args.model, "seeds": _ints(args.seeds), "betas": _floats(args.betas),
            "claim_beta": args.claim_beta, "learning_rates": sorted(set(lrs["lora"] + lrs["residual"])),
            "learning_rates_by_method": {"lora": lrs["lora"], **{m: lrs["residual"] for m in RESIDUAL}},
            "steps": args.steps, "rank": args.rank, "batch_size": args.batch_size, "max_length": args.max_length,
            "finetune": args.finetune, "finetune_samples": args.finetune_samples,
            "preserve_samples": _ints(args.preserve_samples), "eval_prompts": args.eval_prompts,
            "insample": args.insample, "safety_eval": args.safety_eval, **optional}


def phases_of(settings: dict) -> tuple[str, ...]:
    return tuple(settings.get("phases", PHASES))


def configs(settings: dict) -> list[dict]:
    """Every (method, β, C−) in the order they run: the N− = 128 knowledge experiment first (every β),
    then safety and N− = 1,024 (the claims' β). LoRA, PiSSA and SC-LoRA at β = 0 do not depend on C−,
    so they run once. Each config names its ``phase`` (one of ``PHASES``): all seeds finish a phase before
    the next one starts."""
    small, *larger = settings["preserve_samples"]
    first = "knowledge-small"
    out = [{"method": "lora", "beta": None, "cminus": None, "phase": first},
           {"method": "pissa", "beta": None, "cminus": None, "phase": first}]
    out += [{"method": "sclora", "beta": b, "cminus": None, "phase": first} for b in settings["betas"] if b == 0]
    for phase, source, n in ([(first, "knowledge", small), ("safety", "safety", 128)]
                             + [("knowledge-larger", "knowledge", m) for m in larger]):
        betas = [b for b in settings["betas"] if b > 0] if phase == first else [settings["claim_beta"]]
        out.append({"method": "corda-kpm", "beta": None, "cminus": f"{source}-{n}", "phase": phase})
        out += [{"method": "sclora", "beta": b, "cminus": f"{source}-{n}", "phase": phase} for b in betas]
    return [c for c in out if c["phase"] in phases_of(settings)]


def run_key(method: str, beta, cminus, lr: float, seed: int) -> str:
    return f"{method}|{beta}|{cminus}|{lr:g}|{seed}"


def row_key(row: dict) -> str:
    return run_key(row["method"], row["beta"], row["cminus"], row["lr"], row["seed"])


def planned_runs(settings: dict, phase: str | None = None) -> int:
    """Runs in the plan: every config's learning rates for every seed (of one ``phase`` where given)."""
    return len(settings["seeds"]) * sum(len(settings["learning_rates_by_method"][c["method"]])
                                        for c in configs(settings) if phase in (None, c["phase"]))


def recipe(argv: list[str]) -> list[str]:
    """The command without ``--out``, ``--readme`` and ``--verdicts-out``: where the files go is not how they
    were made (and may be a local path)."""
    from benchmarks.measure import without_paths

    return without_paths(argv, ("--out", "--readme", "--verdicts-out"))


# --------------------------------------------------------------------------- a run's record


def finetune_loss(evaluation: dict, index=None) -> float:
    sums, tokens = np.asarray(evaluation["finetune_loss_sums"]), np.asarray(evaluation["finetune_tokens"])
    if index is not None:
        sums, tokens = sums[index], tokens[index]
    return float(sums.sum() / tokens.sum())


def change(row: dict, before: dict, metric: str, part: str) -> np.ndarray:
    """Per prompt: after − before of ``metric`` (mc, answer_loss, generation, refusal) on ``part``."""
    key = f"{metric}_{part}"
    return np.asarray(row[key], dtype=float) - np.asarray(before[key], dtype=float)


def runs_of(rows: list[dict], config: dict, **match) -> list[dict]:
    """The runs of one (method, β, C−), and of ``match`` (e.g. lr, seed) where given."""
    return [r for r in rows if all(r[k] == config[k] for k in ("method", "beta", "cminus"))
            and all(r[k] == v for k, v in match.items())]


def save_raw(raw: dict, path: Path) -> None:
    from sclora.files import atomic_file_write

    atomic_file_write(path, lambda tmp: Path(tmp).write_text(json.dumps(raw, indent=None, separators=(",", ":")),
                                                              encoding="utf-8"))
