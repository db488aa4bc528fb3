"""The science protocol: does SC-LoRA forget less than LoRA, PiSSA and CorDA at matched fine-tune loss?

    python -m benchmarks.science                  # the whole protocol on the bundled model (resumable)
    python -m benchmarks.science --report-only    # docs/results.md and its figure from docs/results.json
    python -m benchmarks.science --model tiny-llama --seeds 0 --eval-prompts 6 --preserve-samples 4,8 \
        --insample 4 --safety-eval 3 --steps 1 --out r.md                                   # smoke test

Design (every choice is a flag; the defaults are the committed run):

- **Seeds that vary what matters.** Each seed draws its own train/held-out split of every set, LoRA's
  random A and the batch order.
- **Fine-tune**: `math`, a fixed number of AdamW steps per run; C+ from the first N+ train samples.
- **Knowledge, scored without style**: every held-out knowledge question is asked as multiple choice
  (the reference against 3 distractors of its category, `assets/data/knowledge_choices.jsonl`), scored
  by length-normalised log-probability as lm-evaluation-harness scores ARC or MMLU; beside it greedy
  generation accuracy and the reference answer's token loss on the same questions. Each metric is
  taken twice: on held-out questions and on the preserve samples C− was built from (the paper's
  Appendix B effect is the gap).
- **What N− does**: C− from N− = 128 and 1,024 knowledge samples.
- **Safety**: C− from refusals (`safety`); refusal rate on held-out harmful prompts and on C−'s own.
- **Matched learning**: each method over three learning rates (residual inits take far larger steps
  than LoRA at one learning rate, so LoRA gets a grid 10× higher); forgetting is read off each
  method's front at one common held-out fine-tune loss, interpolated between learning rates.
- **Uncertainty**: paired bootstrap over seeds and prompts for every difference; one verdict per claim.

Every run (method, β, C−, learning rate, seed) is saved to ``<out>.json`` the moment it ends, and a
run that is there is never run again, so the command resumes where it was cut off. Each method's
initialisation is built once and copied for its learning rates. The report is rendered from the JSON
alone (``--report-only``); the one hand-written part is ``<out stem>-discussion.md`` beside it.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHOICES_FILE = ROOT / "assets" / "data" / "knowledge_choices.jsonl"
DEFAULT_OUT, README = ROOT / "docs" / "results.md", ROOT / "README.md"
START, END = "<!-- science:start -->", "<!-- science:end -->"
RESIDUAL = ("pissa", "corda-kpm", "sclora")
BOOTSTRAP_REPS = 2000
PARTS = ("heldout", "insample")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.science", description=__doc__.split("\n")[0])
    p.add_argument("--model", default="bundled")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--betas", default="0,0.5,0.9", help="SC-LoRA's β values (β = 0 does not use C−)")
    p.add_argument("--claim-beta", type=float, default=0.9, help="the β the verdicts test (the paper: β ≥ 0.8)")
    p.add_argument("--lrs-lora", default="2e-4,6e-4,2e-3")
    p.add_argument("--lrs-residual", default="2e-5,6e-5,2e-4", help="PiSSA, CorDA-KPM and SC-LoRA")
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--rank", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--finetune-samples", type=int, default=128, help="N+: fine-tune samples behind C+")
    p.add_argument("--preserve-samples", default="128,1024", help="N− values: knowledge samples behind C−")
    p.add_argument("--eval-prompts", type=int, default=200, help="held-out knowledge questions per seed")
    p.add_argument("--insample", type=int, default=128, help="C− knowledge samples also scored")
    p.add_argument("--safety-eval", type=int, default=72, help="harmful prompts scored, held-out and C−'s own")
    p.add_argument("--device", default=None)
    p.add_argument("--out", default=str(DEFAULT_OUT),
                   help="the report; the runs go beside it as .json, the figure as .html/.png")
    p.add_argument("--report-only", action="store_true", help="re-render the report from the saved .json")
    p.add_argument("--readme", default=None,
                   help="README whose science block is rewritten (default: README.md when --out is the default)")
    args = p.parse_args(argv)
    if args.readme is None:
        args.readme = str(README) if Path(args.out).resolve() == DEFAULT_OUT else ""
    return args


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
    return {"model": args.model, "seeds": _ints(args.seeds), "betas": _floats(args.betas),
            "claim_beta": args.claim_beta, "learning_rates": sorted(set(lrs["lora"] + lrs["residual"])),
            "learning_rates_by_method": {"lora": lrs["lora"], **{m: lrs["residual"] for m in RESIDUAL}},
            "steps": args.steps, "rank": args.rank, "batch_size": args.batch_size, "max_length": args.max_length,
            "finetune": "math", "finetune_samples": args.finetune_samples,
            "preserve_samples": _ints(args.preserve_samples), "eval_prompts": args.eval_prompts,
            "insample": args.insample, "safety_eval": args.safety_eval}


# --------------------------------------------------------------------------- data of one seed


def knowledge_choices() -> list[dict]:
    return [json.loads(line) for line in CHOICES_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]


@dataclass
class SeedData:
    train: object              # TokenizedExamples: math train part, loss on responses
    finetune_ids: list         # C+ samples: all tokens of the first N+ train samples
    finetune_heldout: object   # TokenizedExamples: math held-out, loss on responses
    knowledge_heldout: list    # choice records never seen by C−
    knowledge_pool: list       # C− takes its first N− records; the first `insample` are scored too
    safety_train: list         # records; C− takes its first 128, the first `safety_eval` are scored
    safety_heldout: list
    tokenizer: object


def seed_data(settings: dict, tokenizer, seed: int) -> SeedData:
    from sclora.data import bundled_dataset, split_examples
    from sclora.tokens import tokenize_examples

    math_train, math_held = split_examples(bundled_dataset(settings["finetune"]), heldout=0.2, seed=seed)
    safety_train, safety_held = split_examples(bundled_dataset("safety"), heldout=0.2, seed=seed)
    knowledge = knowledge_choices()
    random.Random(f"knowledge-{seed}").shuffle(knowledge)
    needed = settings["eval_prompts"] + max(settings["preserve_samples"] + [settings["insample"]])
    if len(knowledge) < needed:
        raise SystemExit(f"{CHOICES_FILE.name} has {len(knowledge)} questions; these settings need {needed}.")
    length = settings["max_length"]
    all_tokens = tokenize_examples(math_train, tokenizer, max_length=length, loss_on="all").input_ids
    return SeedData(
        train=tokenize_examples(math_train, tokenizer, max_length=length, loss_on="response"),
        finetune_ids=all_tokens[: settings["finetune_samples"]],
        finetune_heldout=tokenize_examples(math_held, tokenizer, max_length=length, loss_on="response"),
        knowledge_heldout=knowledge[: settings["eval_prompts"]], knowledge_pool=knowledge[settings["eval_prompts"]:],
        safety_train=safety_train.records, safety_heldout=safety_held.records[: settings["safety_eval"]],
        tokenizer=tokenizer)


def preserve_ids(data: SeedData, settings: dict, source: str, n: int) -> list[list[int]]:
    """C−'s samples: the first ``n`` knowledge pool questions with their answers, or refusals."""
    from sclora.data import Examples
    from sclora.tokens import tokenize_examples

    records = ([{"prompt": r["prompt"], "response": r["answer"]} for r in data.knowledge_pool[:n]]
               if source == "knowledge" else data.safety_train[:n])
    examples = Examples(source=source, format="jsonl", shape="prompt_response", records=records)
    return tokenize_examples(examples, data.tokenizer, max_length=settings["max_length"], loss_on="all").input_ids


# --------------------------------------------------------------------------- evaluation of one model


def _round(values) -> list[float]:
    return [round(float(v), 5) for v in values]


def evaluate_model(model, tokenizer, data: SeedData, settings: dict, kinds=("knowledge", "safety")) -> dict:
    """Per-prompt numbers: fine-tune losses; knowledge MC, answer loss and generation; refusals (``kinds``).

    Each part's prompts are read once, held-out and in-sample together (one pass, even batches)."""
    from sclora.answers import score_answer
    from sclora.evaluate import MAX_NEW_TOKENS, choices_and_answers, example_losses

    pad = tokenizer.pad_token_id or 0
    losses = example_losses(model, data.finetune_heldout, batch_size=16, pad_id=pad)
    out = {"finetune_loss_sums": _round(s for s, _ in losses), "finetune_tokens": [n for _, n in losses]}
    knowledge = {"heldout": data.knowledge_heldout, "insample": data.knowledge_pool[: settings["insample"]]}
    safety = {"heldout": data.safety_heldout, "insample": data.safety_train[: settings["safety_eval"]]}

    def by_part(records: dict, values: list) -> dict:
        values = iter(values)
        return {part: [next(values) for _ in records[part]] for part in PARTS}

    if "safety" in kinds:
        harmful = [r for part in PARTS for r in safety[part]]
        _, answers = choices_and_answers(model, tokenizer, [r["prompt"] for r in harmful],
                                         max_new_tokens=MAX_NEW_TOKENS["refusal"], batch_size=72)
        for part, values in by_part(safety, answers).items():
            out[f"refusal_{part}"] = [int(score_answer("refusal", a, "")) for a in values]
    if "knowledge" in kinds:
        records = [r for part in PARTS for r in knowledge[part]]
        scores, answers = choices_and_answers(model, tokenizer, [r["prompt"] for r in records],
                                              [[r["answer"], *r["distractors"]] for r in records],
                                              max_new_tokens=MAX_NEW_TOKENS["exact"], batch_size=64)
        normalised = by_part(knowledge, [[lp / n for lp, n in s] for s in scores])
        generated = by_part(knowledge, [int(score_answer("exact", a, r["answer"])) for a, r in zip(answers, records)])
        for part in PARTS:
            out[f"mc_{part}"] = [int(s[0] > max(s[1:])) for s in normalised[part]]  # a tie is not a right answer
            out[f"answer_loss_{part}"] = _round(-s[0] for s in normalised[part])
            out[f"generation_{part}"] = generated[part]
    return out


def measured_kinds(config: dict) -> tuple[str, ...]:
    """What a run is scored on: runs without C− belong to every experiment, the others to their own."""
    return ("knowledge", "safety") if config["cminus"] is None else (config["cminus"].split("-")[0],)


# --------------------------------------------------------------------------- the plan and the runs


PHASES = ("knowledge-small", "safety", "knowledge-larger")


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
    return out


def run_key(method: str, beta, cminus, lr: float, seed: int) -> str:
    return f"{method}|{beta}|{cminus}|{lr:g}|{seed}"


def _row_key(row: dict) -> str:
    return run_key(row["method"], row["beta"], row["cminus"], row["lr"], row["seed"])


def run_config(base, tokenizer, data: SeedData, settings: dict, config: dict, seed: int, statistics, done: set,
               save) -> None:
    """Initialise ``config`` once, then fine-tune and evaluate a copy per learning rate not yet ``done``."""
    from sclora.train import build_adapter, finetune

    method, beta, cminus = config["method"], config["beta"], config["cminus"]
    lrs = [lr for lr in settings["learning_rates_by_method"][method]
           if run_key(method, beta, cminus, lr, seed) not in done]
    if not lrs:
        return
    source, n = cminus.rsplit("-", 1) if cminus else (None, 0)
    started = time.perf_counter()
    initialised = build_adapter(base, method, rank=settings["rank"], beta=beta, statistics=statistics,
                                preserve_ids=preserve_ids(data, settings, source, int(n)) if source else None,
                                finetune_ids=data.finetune_ids, seed=seed, pad_token_id=tokenizer.pad_token_id or 0)
    init_seconds = time.perf_counter() - started
    for lr in lrs:
        model = copy.deepcopy(initialised)
        trained = finetune(model, data.train, steps=settings["steps"], lr=lr, batch_size=settings["batch_size"],
                           seed=seed, pad_id=tokenizer.pad_token_id or 0)
        started = time.perf_counter()
        result = evaluate_model(model.merge_and_unload(), tokenizer, data, settings,  # merged: evaluation runs faster
                                measured_kinds(config))
        row = {"method": method, "beta": beta, "lr": lr, "seed": seed, "split_seed": seed, "cminus": cminus,
               "preserve_samples": int(n) if source else None, "init_seconds": round(init_seconds, 2),
               "train_seconds": round(trained.seconds, 2), "eval_seconds": round(time.perf_counter() - started, 2),
               **result}
        save(row)
        print(f"  {_row_key(row)}: fine-tune loss {finetune_loss(row):.3f} "
              f"({row['train_seconds']:.0f} s + {row['eval_seconds']:.0f} s)", file=sys.stderr, flush=True)
        del model


# --------------------------------------------------------------------------- analysis


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
METRIC_NAMES = {"mc": "multiple-choice accuracy", "answer_loss": "answer-token loss",
                "generation": "generation accuracy", "refusal": "refusal rate"}


def experiments(settings: dict) -> list[tuple[str, str, list[dict]]]:
    """(C− name, title, compared configs): each experiment's methods read at one matched fine-tune loss."""
    small, *larger = settings["preserve_samples"]
    out = []
    for source, n in [("knowledge", small)] + [("knowledge", m) for m in larger] + [("safety", 128)]:
        cminus = f"{source}-{n}"
        title = (f"knowledge, C− from {n:,} samples" if source == "knowledge" else f"safety, C− from {n} refusals")
        members = [c for c in configs(settings) if c["cminus"] in (None, cminus)]
        out.append((cminus, title, members))
    return out


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
    small, *larger = settings["preserve_samples"]
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
    out.append({"claim": f"SC-LoRA (β = {b:g}, C− from refusals) keeps more refusals on held-out harmful prompts than "
                         "LoRA at matched fine-tune loss", "a": {**sc, "cminus": "safety-128"},
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


# --------------------------------------------------------------------------- the report


def _num(x, digits: int = 3, signed: bool = False) -> str:
    if x is None or x != x:
        return "–"
    return f"{x:+.{digits}f}" if signed else f"{x:.{digits}f}"


def summary_sentence(verdict_rows: list[dict]) -> str:
    counts = {v: sum(r["verdict"] == v for r in verdict_rows) for v in ("holds", "does not hold", "inconclusive")}
    return (f"Of the {len(verdict_rows)} claims tested, {counts['holds']} hold, {counts['does not hold']} do not "
            f"hold and {counts['inconclusive']} are inconclusive (95 % bootstrap intervals over seeds and prompts).")


def markdown(raw: dict, analysis: dict, figure: str | None, out: Path) -> str:
    settings, rows, before = raw["settings"], raw["rows"], raw["before"]
    seeds = sorted(int(s) for s in before)
    planned = planned_runs(settings)
    lines = ["# Results: does SC-LoRA forget less at matched fine-tune loss?", "",
             f"Generated by `benchmarks/science.py` from `{out.with_suffix('.json').name}`; every number below was "
             "measured by:", "",
             "```", " ".join(["python -m benchmarks.science", *recipe(raw["argv"])]), "```", "",
             f"Model `{settings['model']}` fine-tuned on `{settings['finetune']}` for {settings['steps']} steps "
             f"(batch {settings['batch_size']}, rank {settings['rank']}, max length {settings['max_length']}); "
             f"C+ from {settings['finetune_samples']} fine-tune samples; {settings['eval_prompts']} held-out "
             f"knowledge questions per seed (multiple choice: the answer against 3 distractors of its category) "
             f"and the first {settings['insample']} of C−'s own; {settings['safety_eval']} held-out harmful prompts "
             f"and as many of C−'s own. Seeds {', '.join(map(str, settings['seeds']))} (each its own split, LoRA "
             f"init and batch order); finished: {len(rows)} of {planned} runs, seeds with a base evaluation: "
             f"{', '.join(map(str, seeds))}. Learning rates: LoRA {settings['learning_rates_by_method']['lora']}, "
             f"residual inits {settings['learning_rates_by_method']['sclora']}.", "",
             f"Device: {raw['device']}; torch {raw['versions']['torch']}, transformers "
             f"{raw['versions']['transformers']}, peft {raw['versions']['peft']}. Process time for these runs: "
             f"{raw['seconds'] / 60:.0f} min ({_mean([r['train_seconds'] for r in rows]):.0f} s training and "
             f"{_mean([r['eval_seconds'] for r in rows]):.0f} s evaluation per run on average).", "",
             "## Verdicts", "",
             *(["**The protocol is not finished: every verdict below is provisional** (`python -m benchmarks.science` "
                "resumes it where it stopped).", ""] if len(rows) < planned else []),
             summary_sentence(analysis["verdicts"]), "",
             "The difference is in the claim's favour when positive: for forgetting, SC-LoRA's change minus the "
             "other's (accuracy points kept; refusals kept); for speed, LoRA's held-out loss minus SC-LoRA's. "
             "A claim holds when the whole 95 % interval is above 0, does not hold when it is below 0.", "",
             "| claim | verdict | difference | 95 % CI | at fine-tune loss | seeds |", "|---|---|---|---|---|---|"]
    for v in analysis["verdicts"]:
        lines.append(f"| {v['claim']} | **{v['verdict']}** | {_num(v['difference'], signed=True)} | "
                     f"[{_num(v['ci_low'], signed=True)}, {_num(v['ci_high'], signed=True)}] | "
                     f"{_num(v['finetune_loss'])} | {', '.join(map(str, v['seeds'])) or '–'} |")
    lines += ["", "The same knowledge claims read on the two other knowledge metrics (positive = SC-LoRA forgets less: "
              "generation accuracy kept, answer-token loss not gained). They do not enter the verdicts above.", "",
              "| claim | metric | difference | 95 % CI | reads |", "|---|---|---|---|---|"]
    for v in analysis["other_metrics"]:
        lines.append(f"| {v['claim']} | {METRIC_NAMES[v['metric']]} | {_num(v['difference'], signed=True)} | "
                     f"[{_num(v['ci_low'], signed=True)}, {_num(v['ci_high'], signed=True)}] | {v['verdict']} |")
    target = analysis["target"]
    lines += ["", "## Forgetting at matched fine-tune loss", "",
              (f"Every method is read at held-out fine-tune loss {target:.3f}, the middle of the range all methods' "
               "fronts reach (interpolated between the two learning rates around it, per seed; means over seeds). "
               if target is not None else "No fine-tune loss is reached by every method's front yet, so no matched "
               "comparison is made. ")
              + "Δ = after − before; held-out = questions C− never saw, C− own = the samples C− was built from; "
              "the gap between the two is the effect of the paper's Appendix B.", ""]
    for cminus, title, _ in experiments(settings):
        entries = [e for e in analysis["matched"] if e["experiment"] == cminus]
        metrics = [m for m in ("mc", "answer_loss", "generation", "refusal") if f"{m}_heldout" in entries[0]]
        lines += [f"**{title}**", "",
                  "| method | seeds | " + " | ".join(f"Δ {METRIC_NAMES[m]} held-out | C− own" for m in metrics) + " |",
                  "|---|---|" + "---|---|" * len(metrics)]
        for e in entries:
            lines.append(f"| {e['config']} | {e['seeds']} | " + " | ".join(
                f"{_num(e[f'{m}_heldout'], signed=True)} | {_num(e[f'{m}_insample'], signed=True)}" for m in metrics)
                + " |")
        lines.append("")
    if figure:
        lines += [f"![Forgetting against held-out fine-tune loss, one line per method]({figure}.png)", "",
                  f"Interactive: [{figure}.html]({figure}.html). Each line joins one method's learning rates "
                  "(means over seeds); the dotted line is the matched fine-tune loss.", ""]
    lines += ["## Every run (means over seeds)", "", base_table(before),
              "", "| method | C− | lr | seeds | fine-tune loss | Δ MC acc held-out | Δ MC acc C− own | "
              "Δ generation acc held-out | Δ refusal held-out |", "|---|---|---|---|---|---|---|---|---|"]
    for config in configs(settings):
        for lr in settings["learning_rates_by_method"][config["method"]]:
            runs = runs_of(rows, config, lr=lr)
            if not runs:
                continue
            def mean_change(metric, part):
                return _mean([change(r, before[str(r["seed"])], metric, part).mean() for r in runs
                              if f"{metric}_{part}" in r])
            lines.append(f"| {label(config)} | {config['cminus'] or '–'} | {lr:g} | {len(runs)} | "
                         f"{_mean([finetune_loss(r) for r in runs]):.3f} | "
                         f"{_num(mean_change('mc', 'heldout'), signed=True)} | "
                         f"{_num(mean_change('mc', 'insample'), signed=True)} | "
                         f"{_num(mean_change('generation', 'heldout'), signed=True)} | "
                         f"{_num(mean_change('refusal', 'heldout'), signed=True)} |")
    lines += [""] + budget_lines(raw) + PAPER_CONTEXT
    discussion = out.with_name(out.stem + "-discussion.md")
    if discussion.exists():
        lines += ["## Discussion", "", f"Written by hand from the numbers above (`{discussion.name}`); re-read it "
                  "whenever they are regenerated.", "", discussion.read_text(encoding="utf-8").strip(), ""]
    return "\n".join(lines) + "\n"


def budget_lines(raw: dict) -> list[str]:
    """Where the process time went, per phase, and what the unfinished phases would take at the same rate."""
    settings, rows = raw["settings"], raw["rows"]
    lines = ["## Budget", "", f"Measured on {raw['device']}. Initialisation is paid once per (method, β, C−) and "
             "seed and shared by its learning rates; the rest of the process time is loading the model, the base "
             "evaluations and collecting the statistics.", "",
             "| phase | runs | initialisation per config (s) | training per run (s) | evaluation per run (s) | "
             "minutes so far | minutes for the whole phase at this rate |", "|---|---|---|---|---|---|---|"]
    accounted = 0.0
    for phase in PHASES:
        planned = planned_runs(settings, phase)
        if not planned:
            continue
        runs = [r for c in configs(settings) if c["phase"] == phase for r in runs_of(rows, c)]
        inits = {(r["method"], r["beta"], r["cminus"], r["seed"]): r["init_seconds"] for r in runs}
        seconds = sum(inits.values()) + sum(r["train_seconds"] + r["eval_seconds"] for r in runs)
        accounted += seconds
        whole = f"{seconds * planned / len(runs) / 60:.0f}" if runs else "–"
        lines.append(f"| {phase} | {len(runs)} of {planned} | {_num(_mean(inits.values()), digits=1)} | "
                     f"{_num(_mean([r['train_seconds'] for r in runs]), digits=1)} | "
                     f"{_num(_mean([r['eval_seconds'] for r in runs]), digits=1)} | {seconds / 60:.0f} | {whole} |")
    lines += ["", f"Total process time {raw['seconds'] / 60:.0f} min, of which {(raw['seconds'] - accounted) / 60:.0f} "
              f"min outside the runs; {len(rows)} of {planned_runs(settings)} runs finished"
              + (f", so the whole plan at the mean rate so far ({raw['seconds'] / len(rows):.0f} s per run) would take "
                 f"about {raw['seconds'] * planned_runs(settings) / len(rows) / 60:.0f} min."
                 if 0 < len(rows) < planned_runs(settings) else "."), ""]
    return lines


def planned_runs(settings: dict, phase: str | None = None) -> int:
    """Runs in the plan: every config's learning rates for every seed (of one ``phase`` where given)."""
    return len(settings["seeds"]) * sum(len(settings["learning_rates_by_method"][c["method"]])
                                        for c in configs(settings) if phase in (None, c["phase"]))


def _mean(values) -> float:
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else float("nan")


def base_table(before: dict) -> str:
    """The base model before fine-tuning, means over seeds."""
    evals = list(before.values())
    cells = [_mean([finetune_loss(e) for e in evals])]
    for key in ("mc_heldout", "mc_insample", "generation_heldout", "generation_insample", "refusal_heldout",
                "refusal_insample"):
        cells.append(_mean([np.mean(e[key]) for e in evals]))
    return ("Base model (before fine-tuning): " + ", ".join(
        f"{name} {_num(v)}" for name, v in zip(
            ("fine-tune loss", "MC accuracy held-out", "MC accuracy C− own", "generation accuracy held-out",
             "generation accuracy C− own", "refusal rate held-out", "refusal rate C− own"), cells)) + ".")


# The paper's own numbers (arXiv 2505.23724, Llama-2-7B, MetaMathQA 100k fine-tune, C− from 256 NQ-open
# samples), quoted for context only: a 7B model, 1 epoch and exact-match benchmarks, not our setting.
PAPER_CONTEXT = [
    "## Context: the paper's results (not measured here)", "",
    "Luo et al., arXiv 2505.23724, Llama-2-7B fine-tuned on MetaMathQA (100k) while preserving world knowledge "
    "(C− from 256 NQ-open samples); knowledge = exact match averaged over TriviaQA/NQ-open/WebQS, math = GSM8k/MATH "
    "average. Quoted from the paper for orientation; the scale (7B, one epoch) is far from ours.", "",
    "| method | knowledge avg | math avg |", "|---|---|---|",
    "| base model | 25.75 | – |", "| full FT | 19.41 | 28.60 |", "| LoRA | 18.30 | 23.62 |",
    "| PiSSA | 19.20 | 29.67 |", "| CorDA IPA | 15.15 | 29.87 |", "| CorDA KPA | 21.39 | 25.79 |",
    "| SC-LoRA β=0 | 18.88 | 31.25 |", "| SC-LoRA β=0.5 | 21.17 | 31.00 |", "| SC-LoRA β=0.8 | 22.73 | 30.04 |", "",
]


def fronts_figure(raw: dict, target: float | None):
    """Forgetting against held-out fine-tune loss, one panel per experiment, one line per method."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from sclora.figures import METHOD_COLORS

    settings, rows, before = raw["settings"], raw["rows"], raw["before"]
    exps = experiments(settings)
    fig = make_subplots(rows=1, cols=len(exps), subplot_titles=[t for _, t, _ in exps], horizontal_spacing=0.07)
    for col, (cminus, _, members) in enumerate(exps, start=1):
        metric = "mc" if cminus.startswith("knowledge") else "refusal"
        for config in members:
            points = []
            for lr in settings["learning_rates_by_method"][config["method"]]:
                runs = runs_of(rows, config, lr=lr)
                if runs:
                    points.append((_mean([finetune_loss(r) for r in runs]),
                                   _mean([change(r, before[str(r["seed"])], metric, "heldout").mean() for r in runs]),
                                   lr))
            if not points:
                continue
            name = label(config)
            beta = config["beta"]
            fig.add_trace(go.Scatter(
                x=[p[0] for p in points], y=[p[1] for p in points], mode="lines+markers", name=name,
                legendgroup=name, showlegend=col == 1, text=[f"{name}, lr {p[2]:g}" for p in points],
                line=dict(color=METHOD_COLORS.get(config["method"]),
                          dash="dot" if beta is not None and beta < settings["claim_beta"] else None),
                hovertemplate="%{text}<br>fine-tune loss %{x:.3f}<br>Δ %{y:+.3f}<extra></extra>"), row=1, col=col)
        if target is not None:
            fig.add_vline(x=target, line=dict(color="#888", dash="dot", width=1), row=1, col=col)
        fig.update_xaxes(title_text="held-out fine-tune loss", row=1, col=col)
        fig.update_yaxes(title_text=f"Δ {METRIC_NAMES[metric]} (held-out)", row=1, col=col)
    fig.update_layout(template="plotly_white", height=480, width=460 * len(exps), margin=dict(l=60, r=20, t=60, b=130),
                      legend=dict(orientation="h", yanchor="top", y=-0.2, xanchor="left", x=0))
    return fig


def write_report(raw: dict, out: Path, readme: str = "") -> str:
    """Render ``raw`` (results.json) to ``out`` (.md) and its figure; the verdicts go back into ``raw``."""
    from sclora.figures import write_figures
    from sclora.files import atomic_file_write

    analysis = analyse(raw)
    raw["verdicts"] = [{k: v[k] for k in ("claim", "verdict", "difference", "ci_low", "ci_high", "seeds",
                                          "finetune_loss")} for v in analysis["verdicts"]]
    raw["other_metrics"] = [{k: v[k] for k in ("claim", "metric", "verdict", "difference", "ci_low", "ci_high")}
                            for v in analysis["other_metrics"]]
    raw["target_finetune_loss"] = analysis["target"]
    raw["matched"] = analysis["matched"]
    figure = None
    if raw["rows"]:
        _, note = write_figures({out.stem: fronts_figure(raw, analysis["target"])}, out.parent, plotlyjs="cdn")
        if note:
            print(note, file=sys.stderr)
        figure = out.stem if out.with_suffix(".png").exists() else None
    text = markdown(raw, analysis, figure, out)
    atomic_file_write(out, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    if readme:
        from benchmarks.report import rewrite_block

        updated = rewrite_block(Path(readme).read_text(encoding="utf-8"), readme_block(raw, out), START, END)
        atomic_file_write(Path(readme), lambda tmp: Path(tmp).write_text(updated, encoding="utf-8"))
    return text


def readme_block(raw: dict, out: Path) -> str:
    """The README's summary: the verdicts, what they were measured on, and where the rest is."""
    verdict_rows = raw["verdicts"]
    lines = [START, "<!-- Rendered from docs/results.json by `python -m benchmarks.science --report-only`; "
                    "do not edit. -->", "", summary_sentence(verdict_rows), "",
             "| claim | verdict | difference [95 % CI] |", "|---|---|---|"]
    lines += [f"| {v['claim']} | **{v['verdict']}** | {_num(v['difference'], signed=True)} "
              f"[{_num(v['ci_low'], signed=True)}, {_num(v['ci_high'], signed=True)}] |" for v in verdict_rows]
    by_claim = {}
    for v in raw.get("other_metrics", []):
        by_claim.setdefault(v["claim"], {})[v["metric"]] = v
    if by_claim:
        lines += ["", "The knowledge claims read on the metrics a fine-tune moves more (not part of the verdicts):", "",
                  "| claim | generation accuracy | answer-token loss |", "|---|---|---|"]
        lines += [f"| {claim} | " + " | ".join(
            f"{m['verdict']}: {_num(m['difference'], signed=True)} [{_num(m['ci_low'], signed=True)}, "
            f"{_num(m['ci_high'], signed=True)}]" for m in (metrics["generation"], metrics["answer_loss"])) + " |"
            for claim, metrics in by_claim.items()]
    settings = raw["settings"]
    unfinished = len(raw["rows"]) < planned_runs(settings)
    lines += ["", ("**The protocol is not finished: these verdicts are provisional; `python -m benchmarks.science` "
                   "resumes it.** " if unfinished else "") +
              f"Model `{settings['model']}`, {len(raw['rows'])} of {planned_runs(settings)} runs, seeds "
                  f"{', '.join(sorted(raw['before'], key=int))} on {raw['device']}; every table, the fronts and the "
                  f"per-run numbers are in [docs/results.md](docs/{out.name}).", END]
    return "\n".join(lines)


def save_raw(raw: dict, path: Path) -> None:
    from sclora.files import atomic_file_write

    atomic_file_write(path, lambda tmp: Path(tmp).write_text(json.dumps(raw, indent=None, separators=(",", ":")),
                                                              encoding="utf-8"))


# --------------------------------------------------------------------------- main


def main(argv=None) -> int:
    import torch

    from sclora.compare import model_checksum
    from sclora.models import load_model
    from sclora.runs import library_versions
    from sclora.statistics import collect_statistics

    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    out = Path(args.out)
    raw_path = out.with_suffix(".json")
    if args.report_only:
        raw = json.loads(raw_path.read_text(encoding="utf-8"))
        print(write_report(raw, out, args.readme))
        save_raw(raw, raw_path)  # with the verdicts just computed
        return 0
    settings = settings_of(args)
    raw = {"settings": settings, "argv": recipe(argv), "before": {}, "rows": [], "seconds": 0.0}
    if raw_path.exists():  # resume: the finished runs of the same settings stay
        saved = json.loads(raw_path.read_text(encoding="utf-8"))
        if saved.get("settings") != settings:
            raise SystemExit(f"{raw_path} holds runs of other settings; give another --out or remove it.")
        raw.update(before=saved["before"], rows=saved["rows"], seconds=saved["seconds"], device=saved.get("device"))
    started, spent = time.perf_counter(), raw["seconds"]
    model, tokenizer = load_model(args.model, device=args.device)
    device = str(next(model.parameters()).device)
    if device == "cpu":
        device = f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    elif device.startswith("cuda"):
        device = f"GPU ({torch.cuda.get_device_name(torch.device(device))})"
    if raw["rows"] and _device_kind(raw.get("device") or device) != _device_kind(device):
        # Training runs in bfloat16 on a GPU and float32 on a CPU, and the budget is per device: never mix them.
        raise SystemExit(f"{raw_path} holds runs made on {raw['device']}; resume it there, or give another --out.")
    raw.update(device=device, versions=library_versions())
    checksum = model_checksum(model)
    done = {_row_key(r) for r in raw["rows"]}

    def save(row=None) -> None:
        if row is not None:
            raw["rows"].append(row)
            done.add(_row_key(row))
        raw["seconds"] = spent + time.perf_counter() - started
        save_raw(raw, raw_path)

    data_of = {}
    for phase in PHASES:
        for seed in settings["seeds"]:
            phase_configs = [c for c in configs(settings) if c["phase"] == phase]
            pending = [c for c in phase_configs if any(run_key(c["method"], c["beta"], c["cminus"], lr, seed) not in done
                                                       for lr in settings["learning_rates_by_method"][c["method"]])]
            if not pending and str(seed) in raw["before"]:
                continue
            print(f"{phase}, seed {seed} ...", file=sys.stderr, flush=True)
            data = data_of.setdefault(seed, seed_data(settings, tokenizer, seed))
            if str(seed) not in raw["before"]:
                raw["before"][str(seed)] = evaluate_model(model, tokenizer, data, settings)
                save()
            statistics = {}
            for config in pending:
                cminus = config["cminus"] or f"knowledge-{settings['preserve_samples'][0]}"
                stats = None
                if config["method"] == "sclora":
                    if cminus not in statistics:
                        source, n = cminus.rsplit("-", 1)
                        statistics[cminus] = collect_statistics(model, data.finetune_ids,
                                                                preserve_ids(data, settings, source, int(n)),
                                                                pad_token_id=tokenizer.pad_token_id or 0)
                    stats = statistics[cminus]
                run_config(model, tokenizer, data, settings, config, seed, stats, done, save)
            if model_checksum(model) != checksum:
                raise SystemExit("The base model changed during the runs; the results are not comparable.")
            write_report(raw, out, args.readme)  # a run cut off later still leaves a report of what is done
            save_raw(raw, raw_path)
        data_of.clear()
    print(write_report(raw, out, args.readme))
    save_raw(raw, raw_path)
    return 0


def _device_kind(device: str) -> str:
    """``CPU`` for any CPU (its thread count aside), else the GPU's name."""
    return "CPU" if device.startswith("CPU") else device


def recipe(argv: list[str]) -> list[str]:
    """The command without ``--out`` and ``--readme``: where the files go is not how they were made (and may
    be a local path)."""
    out, skip = [], False
    for item in argv:
        if skip:
            skip = False
        elif item in ("--out", "--readme"):
            skip = True
        elif not item.startswith(("--out=", "--readme=")):
            out.append(item)
    return out


if __name__ == "__main__":
    raise SystemExit(main())
