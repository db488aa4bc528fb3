"""Measure the bundled model on the bundled datasets (the numbers in README.md).

    python assets/data/measure.py            # held-out rates of all four sets (before fine-tuning)
    python assets/data/measure.py --curate   # check every knowledge candidate, write knowledge_check.json
                                             # (then run generate.py to rebuild knowledge.jsonl)

Greedy generation (sclora.generation.generate) with the model's chat template; each answer is scored
with its set's metric (sclora.data.score_answer). Deterministic on CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
sys.path.insert(0, str(HERE))

from sclora.data import BUNDLED_DATASETS, answer_matches, bundled_dataset, qa_pairs, score_answer, split_examples  # noqa: E402
from sclora.generation import generate  # noqa: E402
from sclora.models import load_model  # noqa: E402

NEW_TOKENS = {"math": 64, "pirate": 48, "knowledge": 24, "safety": 40}


def curate(model, tokenizer) -> None:
    import generate as generator

    candidates = generator.knowledge_candidates()
    answers = generate(model, tokenizer, [q for q, _ in candidates], max_new_tokens=NEW_TOKENS["knowledge"], batch_size=16)
    dropped = [q for (q, a), out in zip(candidates, answers) if not answer_matches(out, a)]
    result = {
        "model": "bundled (SmolLM2-135M-Instruct), greedy, chat template, max_new_tokens=24",
        "rule": "sclora.data.answer_matches",
        "candidates": len(candidates),
        "correct": len(candidates) - len(dropped),
        "dropped": dropped,
    }
    fd, tmp = tempfile.mkstemp(dir=HERE, prefix=".knowledge_check.")
    with os.fdopen(fd, "w") as f:
        json.dump(result, f, indent=1, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, HERE / "knowledge_check.json")
    print(f"knowledge candidates: {result['correct']}/{result['candidates']} right; "
          f"{len(dropped)} dropped -> knowledge_check.json")


def measure(model, tokenizer, show: int) -> None:
    for name, info in BUNDLED_DATASETS.items():
        _, held = split_examples(bundled_dataset(name), heldout=0.2, seed=0)
        pairs = qa_pairs(held)
        answers = generate(model, tokenizer, [p for p, _ in pairs], max_new_tokens=NEW_TOKENS[name], batch_size=16)
        hits = sum(score_answer(info.metric, out, ref) for (_, ref), out in zip(pairs, answers))
        print(f"{name} ({info.metric}): {hits}/{len(pairs)} = {hits / len(pairs):.1%} of held-out answers")
        for (prompt, _), out in list(zip(pairs, answers))[:show]:
            print(f"   Q: {prompt}\n   A: {out[:160]!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--curate", action="store_true", help="check every knowledge candidate")
    parser.add_argument("--show", type=int, default=2, help="example answers to print per set")
    args = parser.parse_args()
    import torch

    torch.manual_seed(0)
    model, tokenizer = load_model("bundled", device="cpu")
    if args.curate:
        curate(model, tokenizer)
    else:
        measure(model, tokenizer, args.show)


if __name__ == "__main__":
    main()
