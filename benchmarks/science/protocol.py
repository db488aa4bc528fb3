"""The runs: each seed's data, the evaluation of one model, and the plan run phase by phase, resumably.

Every run (method, β, C−, learning rate, seed) is saved to results.json the moment it ends, and a run
that is there is never run again; the report is rendered again after each phase and seed.
"""

from __future__ import annotations

import copy
import json
import platform
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.science.plan import PARTS, configs, finetune_loss, phases_of, recipe, row_key, run_key, save_raw
from benchmarks.science.report import write_report

ROOT = Path(__file__).resolve().parents[2]
CHOICES_FILE = ROOT / "assets" / "data" / "knowledge_choices.jsonl"


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


def finetune_losses(model, tokenizer, data: SeedData) -> dict:
    """Summed loss and token count of every held-out fine-tune sample (``finetune_loss`` reads them)."""
    from sclora.evaluate import example_losses

    losses = example_losses(model, data.finetune_heldout, batch_size=16, pad_id=tokenizer.pad_token_id or 0)
    return {"finetune_loss_sums": _round(s for s, _ in losses), "finetune_tokens": [n for _, n in losses]}


def multiple_choice(model, tokenizer, records: list[dict], max_new_tokens: int = 0):
    """Per question: right or not (its answer scores above every distractor, length-normalised; a tie is not
    right), the answer's loss per token, and the greedy answer when ``max_new_tokens`` > 0."""
    from sclora.evaluate import choices_and_answers

    scores, answers = choices_and_answers(model, tokenizer, [r["prompt"] for r in records],
                                          [[r["answer"], *r["distractors"]] for r in records],
                                          max_new_tokens=max_new_tokens, batch_size=64)
    normalised = [[lp / n for lp, n in s] for s in scores]
    return [int(s[0] > max(s[1:])) for s in normalised], _round(-s[0] for s in normalised), answers


def evaluate_model(model, tokenizer, data: SeedData, settings: dict, kinds=("knowledge", "safety")) -> dict:
    """Per-prompt numbers: fine-tune losses; knowledge MC, answer loss and generation; refusals (``kinds``).

    Each part's prompts are read once, held-out and in-sample together (one pass, even batches)."""
    from sclora.answers import score_answer
    from sclora.evaluate import MAX_NEW_TOKENS, choices_and_answers

    out = finetune_losses(model, tokenizer, data)
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
        right, answer_loss, answers = multiple_choice(model, tokenizer, records, MAX_NEW_TOKENS["exact"])
        generated = [int(score_answer("exact", a, r["answer"])) for a, r in zip(answers, records)]
        for metric, values in (("mc", right), ("answer_loss", answer_loss), ("generation", generated)):
            for part, part_values in by_part(knowledge, values).items():
                out[f"{metric}_{part}"] = part_values
    return out


def measured_kinds(config: dict, settings: dict) -> tuple[str, ...]:
    """What a run is scored on: runs without C− belong to every experiment that runs, the others to their own."""
    if config["cminus"] is not None:
        return (config["cminus"].split("-")[0],)
    return ("knowledge", "safety") if "safety" in phases_of(settings) else ("knowledge",)


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
                                measured_kinds(config, settings))
        row = {"method": method, "beta": beta, "lr": lr, "seed": seed, "split_seed": seed, "cminus": cminus,
               "preserve_samples": int(n) if source else None, "init_seconds": round(init_seconds, 2),
               "train_seconds": round(trained.seconds, 2), "eval_seconds": round(time.perf_counter() - started, 2),
               **result}
        save(row)
        print(f"  {row_key(row)}: fine-tune loss {finetune_loss(row):.3f} "
              f"({row['train_seconds']:.0f} s + {row['eval_seconds']:.0f} s)", file=sys.stderr, flush=True)
        del model


def run(settings: dict, argv: list[str], out: Path, readme: str = "", model_name: str = "bundled",
        torch_device: str | None = None) -> None:
    """Every run of the plan not yet in ``out``'s .json, phase by phase and seed by seed, saving each as it
    ends; the report (and the README block when ``readme`` is given) rendered after each phase and seed."""
    from sclora.models import load_model, model_checksum
    from sclora.runs import library_versions
    from sclora.statistics import collect_statistics

    raw_path = out.with_suffix(".json")
    raw = {"settings": settings, "argv": recipe(argv), "before": {}, "rows": [], "seconds": 0.0}
    if raw_path.exists():  # resume: the finished runs of the same settings stay
        saved = json.loads(raw_path.read_text(encoding="utf-8"))
        if saved.get("settings") != settings:
            raise SystemExit(f"{raw_path} holds runs of other settings; give another --out or remove it.")
        raw.update(before=saved["before"], rows=saved["rows"], seconds=saved["seconds"], device=saved.get("device"))
    started, spent = time.perf_counter(), raw["seconds"]
    model, tokenizer = load_model(model_name, device=torch_device)
    device = device_name(model)
    if raw["rows"] and _device_kind(raw.get("device") or device) != _device_kind(device):
        # Training runs in bfloat16 on a GPU and float32 on a CPU, and the budget is per device: never mix them.
        raise SystemExit(f"{raw_path} holds runs made on {raw['device']}; resume it there, or give another --out.")
    raw.update(device=device, versions=library_versions())
    checksum = model_checksum(model)
    done = {row_key(r) for r in raw["rows"]}

    def save(row=None) -> None:
        if row is not None:
            raw["rows"].append(row)
            done.add(row_key(row))
        raw["seconds"] = spent + time.perf_counter() - started
        save_raw(raw, raw_path)

    data_of = {}
    for phase in phases_of(settings):
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
            write_report(raw, out, readme)  # a run cut off later still leaves a report of what is done
            save_raw(raw, raw_path)
        data_of.clear()
    print(write_report(raw, out, readme))
    save_raw(raw, raw_path)


def device_name(model) -> str:
    """Where ``model`` runs, as the reports name it: the CPU and its threads, or the GPU's name."""
    import torch

    device = str(next(model.parameters()).device)
    if device == "cpu":
        return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    if device.startswith("cuda"):
        return f"GPU ({torch.cuda.get_device_name(torch.device(device))})"
    return device


def _device_kind(device: str) -> str:
    """``CPU`` for any CPU (its thread count aside), else the GPU's name."""
    return "CPU" if device.startswith("CPU") else device
