"""Measure the bundled model on the bundled datasets (the numbers in README.md).

    python assets/data/measure.py            # held-out rates of all four sets (before fine-tuning)
    python assets/data/measure.py --curate   # check new knowledge candidates, update knowledge_check.json
                                             # (--recheck: all of them); then run generate.py

Greedy generation (sclora.generation.generate) with the model's chat template; each answer is scored
with its set's metric (sclora.answers.score_answer). Deterministic on CPU.
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

from sclora.answers import answer_matches, score_answer  # noqa: E402
from sclora.data import BUNDLED_DATASETS, bundled_dataset, split_examples  # noqa: E402
from sclora.generation import generate  # noqa: E402
from sclora.models import load_model  # noqa: E402
from sclora.tokens import qa_pairs  # noqa: E402

NEW_TOKENS = {"math": 48, "pirate": 32, "knowledge": 24, "safety": 32}


def curate(model, tokenizer, recheck: bool = False) -> None:
    """Check knowledge candidates not checked yet (all with ``recheck``); record the verdicts."""
    import generate as generator

    path = HERE / "knowledge_check.json"
    candidates = generator.knowledge_candidates()
    checked = {} if recheck or not path.is_file() else json.loads(path.read_text())["checked"]
    todo = [(q, a) for q, a, _ in candidates if q not in checked]
    if todo:
        answers = generate(model, tokenizer, [q for q, _ in todo], max_new_tokens=NEW_TOKENS["knowledge"], batch_size=16)
        checked.update({q: answer_matches(out, a) for (q, a), out in zip(todo, answers)})
    checked = {q: checked[q] for q, _, _ in candidates}  # candidates removed from the lists drop out
    result = {
        "model": "bundled (SmolLM2-135M-Instruct), greedy, chat template, max_new_tokens=24, batches of 16",
        "rule": "sclora.answers.answer_matches",
        "candidates": len(checked),
        "correct": sum(checked.values()),
        "checked": checked,
    }
    fd, tmp = tempfile.mkstemp(dir=HERE, prefix=".knowledge_check.")
    with os.fdopen(fd, "w") as f:
        json.dump(result, f, indent=1, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, path)
    print(f"knowledge candidates: {result['correct']}/{result['candidates']} right "
          f"({len(todo)} newly checked) -> knowledge_check.json")


def measure(model, tokenizer, show: int) -> None:
    for name in ("knowledge", "safety", "math", "pirate"):
        info = BUNDLED_DATASETS[name]
        _, held = split_examples(bundled_dataset(name), heldout=0.2, seed=0)
        pairs = qa_pairs(held)
        answers = generate(model, tokenizer, [p for p, _ in pairs], max_new_tokens=NEW_TOKENS[name], batch_size=16)
        hits = sum(score_answer(info.metric, out, ref) for (_, ref), out in zip(pairs, answers))
        print(f"{name} ({info.metric}): {hits}/{len(pairs)} = {hits / len(pairs):.1%} of held-out answers", flush=True)
        for (prompt, _), out in list(zip(pairs, answers))[:show]:
            print(f"   Q: {prompt}\n   A: {out[:160]!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--curate", action="store_true", help="check the knowledge candidates not checked yet")
    parser.add_argument("--recheck", action="store_true", help="with --curate: check every candidate again")
    parser.add_argument("--show", type=int, default=2, help="example answers to print per set")
    args = parser.parse_args()
    import torch

    torch.manual_seed(0)
    model, tokenizer = load_model("bundled", device="cpu")
    if args.curate:
        curate(model, tokenizer, args.recheck)
    else:
        measure(model, tokenizer, args.show)


if __name__ == "__main__":
    main()
