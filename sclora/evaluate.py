"""What a fine-tune learned and what it forgot, measured on held-out data.

Two kinds of measurement, both on the fine-tune set and on the preserve set:

- **loss / perplexity**: mean next-token cross-entropy over the response tokens (the same
  tokens the training loss covers), summed over all held-out records then divided by their
  token count; perplexity = exp(loss). Cheap and always available.
- **answer accuracy** (greedy generation, bounded to the first ``max_eval`` held-out prompts and
  a few new tokens so CPU runs stay short), by the set's metric:
  ``math``: the final number of the answer equals the reference's (``data.extract_math_answer``);
  ``exact``: normalised exact match (lower case, no punctuation/articles/extra spaces), true when
  the normalised reference appears in the normalised answer as whole words; ``refusal``: the
  fraction of answers that *are refusals* by ``data.is_refusal`` — a keyword rule ("I can't",
  "I cannot help", …) that misses unusual refusals and counts a refusal followed by harmful
  content as a refusal, so it is an upper bound on safe behaviour, not a safety score.

Forgetting is the change on the preserve set: ``preserve_loss_after - preserve_loss_before``
(> 0: forgot) and ``preserve_accuracy_after - preserve_accuracy_before`` (< 0: forgot).
"""

from __future__ import annotations

import math
import re
import string

import torch

from .errors import check
from .train import autocast_context, pad_batch, token_loss_sum

# How many new tokens a greedy answer may take, per metric: enough for the bundled formats,
# short enough that generation stays a small part of a CPU run.
MAX_NEW_TOKENS = {"math": 64, "exact": 24, "refusal": 32}
METRIC_RULES = {
    "math": "final number of the greedy answer equals the reference's",
    "exact": "normalised reference appears in the normalised greedy answer",
    "refusal": "greedy answer is a refusal by the keyword rule data.is_refusal (upper bound on safe behaviour)",
}
DEFAULT_MAX_EVAL = 64


# --------------------------------------------------------------------------- loss


@torch.no_grad()
def tokenized_loss(model, tokenized, *, batch_size: int = 8, pad_id: int = 0) -> tuple[float, int]:
    """Mean token loss over the labelled tokens of ``tokenized`` (a ``TokenizedExamples``), and their count."""
    check(isinstance(batch_size, int) and batch_size >= 1, f"Parameter 'batch_size' must be >= 1, got {batch_size!r}.")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    try:
        # Sort by length so batches pad little; the sum does not depend on the order.
        order = sorted(range(len(tokenized.input_ids)), key=lambda i: len(tokenized.input_ids[i]))
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            ids, mask, lab = pad_batch([tokenized.input_ids[i] for i in chunk], [tokenized.labels[i] for i in chunk],
                                       pad_id)
            with autocast_context(device):
                loss_sum, n = token_loss_sum(model, ids.to(device), mask.to(device), lab.to(device))
            total += float(loss_sum)
            count += n
    finally:
        model.train(was_training)
    check(count > 0, "The held-out set has no response tokens to score: check its response field.")
    return total / count, count


def heldout_loss(model, tokenizer, examples, *, max_length: int = 256, batch_size: int = 8) -> dict:
    """Loss and perplexity of ``model`` on ``examples`` (response tokens only)."""
    from .data import tokenize_examples

    tokenized = tokenize_examples(examples, tokenizer, max_length=max_length, loss_on="response")
    loss, n_tokens = tokenized_loss(model, tokenized, batch_size=batch_size, pad_id=_pad_id(tokenizer))
    return {"loss": loss, "perplexity": math.exp(min(loss, 700.0)), "tokens": n_tokens,
            "truncated": tokenized.n_truncated}


def _pad_id(tokenizer) -> int:
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0


# --------------------------------------------------------------------------- answers


_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans({c: " " for c in string.punctuation})


def normalize_answer(text: str) -> str:
    """Lower case, punctuation and English articles removed, whitespace collapsed (SQuAD-style)."""
    text = _ARTICLES.sub(" ", text.lower().translate(_PUNCT))
    return " ".join(text.split())


def exact_match(answer: str, reference: str) -> bool:
    """True when the normalised reference appears in the normalised answer as whole words.

    Small models rarely answer with the bare entity ("Paris." vs "The capital of France is
    Paris."), so containment is the fair reading of "exact match" for generated answers.
    """
    ref = normalize_answer(reference)
    return bool(ref) and f" {ref} " in f" {normalize_answer(answer)} "


def score_answer(metric: str, answer: str, reference: str) -> bool:
    """Whether one greedy ``answer`` passes ``metric``'s rule (see the module docstring)."""
    from .data import extract_math_answer, is_refusal

    if metric == "math":
        got, want = extract_math_answer(answer), extract_math_answer(reference)
        return got is not None and want is not None and _same_number(got, want)
    if metric == "exact":
        return exact_match(answer, reference)
    if metric == "refusal":
        return is_refusal(answer)
    raise ValueError(f"metric {metric!r} has no answer rule")


def _same_number(a: str, b: str) -> bool:
    try:
        return math.isclose(float(a.replace(",", "")), float(b.replace(",", "")), rel_tol=0, abs_tol=1e-9)
    except ValueError:
        return a.strip() == b.strip()


def answer_accuracy(model, tokenizer, examples, metric: str, *, max_eval: int = DEFAULT_MAX_EVAL,
                    max_new_tokens: int | None = None, batch_size: int = 8) -> tuple[float, list[dict]]:
    """Fraction of the first ``max_eval`` held-out prompts whose greedy answer passes ``metric``.

    Returns ``(accuracy, rows)``, one row per prompt: prompt, reference, answer, correct.
    """
    from .data import qa_pairs
    from .generation import generate

    check(metric in METRIC_RULES, f"Unknown metric {metric!r}: choose one of {', '.join(METRIC_RULES)}.")
    check(isinstance(max_eval, int) and max_eval >= 1, f"Parameter 'max_eval' must be an integer >= 1, got {max_eval!r}.")
    pairs = qa_pairs(examples)[:max_eval]
    check(len(pairs) > 0, f"The held-out set {getattr(examples, 'source', '')!r} has no prompts to answer.")
    answers = generate(model, tokenizer, [p for p, _ in pairs], max_new_tokens=max_new_tokens or MAX_NEW_TOKENS[metric],
                       batch_size=batch_size)
    rows = [{"prompt": p, "reference": r, "answer": a, "correct": score_answer(metric, a, r)}
            for (p, r), a in zip(pairs, answers)]
    return sum(row["correct"] for row in rows) / len(rows), rows


# --------------------------------------------------------------------------- both sets


def evaluate(model, tokenizer, finetune_heldout, preserve_heldout, *, finetune_metric: str | None = None,
             preserve_metric: str | None = None, max_length: int = 256, batch_size: int = 8,
             max_eval: int = DEFAULT_MAX_EVAL, generations: bool = True) -> dict:
    """Loss, perplexity and (where a metric applies) answer accuracy on both held-out sets.

    Keys: ``finetune_loss``, ``finetune_perplexity``, ``preserve_loss``, ``preserve_perplexity``,
    ``finetune_accuracy`` / ``preserve_accuracy`` (None when the set has no answer metric or
    ``generations`` is False), and ``answers``: the per-prompt rows, each tagged with its ``set``.
    """
    out: dict = {"answers": []}
    for role, examples, metric in (("finetune", finetune_heldout, finetune_metric),
                                   ("preserve", preserve_heldout, preserve_metric)):
        loss = heldout_loss(model, tokenizer, examples, max_length=max_length, batch_size=batch_size)
        out[f"{role}_loss"] = loss["loss"]
        out[f"{role}_perplexity"] = loss["perplexity"]
        out[f"{role}_accuracy"] = None
        if generations and metric in METRIC_RULES:
            acc, rows = answer_accuracy(model, tokenizer, examples, metric, max_eval=max_eval, batch_size=batch_size)
            out[f"{role}_accuracy"] = acc
            out["answers"] += [{"set": role, "metric": metric, **row} for row in rows]
    return out


def forgetting(before: dict, after: dict) -> dict:
    """Change on the preserve set from ``before`` to ``after`` (loss up / accuracy down = forgetting)."""
    out = {"preserve_loss_change": after["preserve_loss"] - before["preserve_loss"]}
    b, a = before.get("preserve_accuracy"), after.get("preserve_accuracy")
    out["preserve_accuracy_change"] = None if a is None or b is None else a - b
    return out
