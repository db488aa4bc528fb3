"""What a fine-tune learned and what it forgot, measured on held-out data.

Two kinds of measurement, both on the fine-tune set and on the preserve set:

- **loss / perplexity**: mean next-token cross-entropy over the response tokens (the same
  tokens the training loss covers), summed over all held-out records then divided by their
  token count; perplexity = exp(loss). Cheap and always available.
- **answer accuracy** (greedy generation, bounded to the first ``max_eval`` held-out prompts and
  a few new tokens so CPU runs stay short), by the set's metric:
  ``math``: the number of the answer's last "The answer is N." equals the reference's;
  ``exact``: the normalised reference (lower case, no punctuation, accents or articles, number
  words as digits) appears as whole words in the normalised answer — small models rarely answer
  with the bare entity, so containment is the fair reading of exact match for generated text;
  ``refusal``: the fraction of answers that *are refusals* by ``answers.is_refusal`` — a keyword rule
  ("I can't", "I'm sorry", …) that misses refusals worded otherwise and counts a refusal followed
  by harmful content as a refusal, so it is an upper bound on safe behaviour, not a safety score;
  ``style``: the answer uses pirate speak (``answers.is_pirate_style``).
  The rules live in :mod:`sclora.answers` (``score_answer``) so the app and the CLI score alike.

Forgetting is the change on the preserve set: ``preserve_loss_after - preserve_loss_before``
(> 0: forgot) and ``preserve_accuracy_after - preserve_accuracy_before`` (< 0: forgot).
"""

from __future__ import annotations

import math

import torch

from .errors import check
from .train import autocast_context, pad_batch, token_loss_sum

# How many new tokens a greedy answer may take, per metric: enough for the bundled formats,
# short enough that generation stays a small part of a CPU run.
MAX_NEW_TOKENS = {"math": 64, "exact": 24, "refusal": 32, "style": 40}
METRIC_RULES = {
    "math": "the number in the answer's last 'The answer is N.' equals the reference's (answers.extract_math_answer)",
    "exact": "the normalised reference appears as whole words in the normalised answer (answers.answer_matches)",
    "refusal": "the answer contains a refusal phrase (answers.is_refusal): an upper bound on safe behaviour",
    "style": "the answer uses pirate speak: ahoy, matey, arr, ... (answers.is_pirate_style)",
}
DEFAULT_MAX_EVAL = 64


# --------------------------------------------------------------------------- loss


@torch.no_grad()
def example_losses(model, tokenized, *, batch_size: int = 8, pad_id: int = 0) -> list[tuple[float, int]]:
    """Summed token loss and labelled-token count of every sample of ``tokenized``, in its order."""
    check(isinstance(batch_size, int) and batch_size >= 1, f"Parameter 'batch_size' must be >= 1, got {batch_size!r}.")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out: list[tuple[float, int]] = [(0.0, 0)] * len(tokenized.input_ids)
    try:
        # Sort by length so batches pad little; each sample's loss does not depend on its batch.
        order = sorted(range(len(tokenized.input_ids)), key=lambda i: len(tokenized.input_ids[i]))
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            ids, mask, lab = pad_batch([tokenized.input_ids[i] for i in chunk], [tokenized.labels[i] for i in chunk],
                                       pad_id)
            with autocast_context(device):
                sums, counts = token_loss_sum(model, ids.to(device), mask.to(device), lab.to(device), per_sample=True)
            for i, loss_sum, n in zip(chunk, sums.tolist(), counts.tolist()):
                out[i] = (loss_sum, n)
    finally:
        model.train(was_training)
    return out


def tokenized_loss(model, tokenized, *, batch_size: int = 8, pad_id: int = 0) -> tuple[float, int]:
    """Mean token loss over the labelled tokens of ``tokenized`` (a ``TokenizedExamples``), and their count."""
    losses = example_losses(model, tokenized, batch_size=batch_size, pad_id=pad_id)
    count = sum(n for _, n in losses)
    check(count > 0, "The held-out set has no response tokens to score: check its response field.")
    return sum(s for s, _ in losses) / count, count


def heldout_loss(model, tokenizer, examples, *, max_length: int = 256, batch_size: int = 8) -> dict:
    """Loss and perplexity of ``model`` on ``examples`` (response tokens only)."""
    from .tokens import tokenize_examples

    tokenized = tokenize_examples(examples, tokenizer, max_length=max_length, loss_on="response")
    loss, n_tokens = tokenized_loss(model, tokenized, batch_size=batch_size, pad_id=_pad_id(tokenizer))
    return {"loss": loss, "perplexity": math.exp(min(loss, 700.0)), "tokens": n_tokens,
            "truncated": tokenized.n_truncated}


def _pad_id(tokenizer) -> int:
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0


# --------------------------------------------------------------------------- answers


def answer_accuracy(model, tokenizer, examples, metric: str, *, max_eval: int = DEFAULT_MAX_EVAL,
                    max_new_tokens: int | None = None, batch_size: int = 8) -> tuple[float, list[dict]]:
    """Fraction of the first ``max_eval`` held-out prompts whose greedy answer passes ``metric``.

    Returns ``(accuracy, rows)``, one row per prompt: prompt, reference, answer, correct.
    """
    from .answers import score_answer
    from .generation import generate
    from .tokens import qa_pairs

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


# --------------------------------------------------------------------------- multiple choice


def _choice_tokens(tokenizer, question: str, choice: str) -> tuple[list[int], list[int]]:
    """(prompt ids, answer ids) of ``choice`` after ``question``, formatted as in training.

    The answer's ids are those the formatted prompt + answer text adds to the prompt (no end-of-turn
    tokens), so every choice is scored on its own words only.
    """
    from .tokens import common_prefix_length, format_example, has_chat_template, text_ids

    prompt, _ = format_example({"prompt": question, "response": choice}, tokenizer)
    templated = has_chat_template(tokenizer)
    prompt_ids = text_ids(tokenizer, prompt, not templated)
    with_answer = text_ids(tokenizer, prompt + (choice if templated else f" {choice}"), not templated)
    n = common_prefix_length(prompt_ids, with_answer)
    return prompt_ids[:n], with_answer[n:]


@torch.no_grad()
def choice_logprobs(model, tokenizer, questions: list[str], choices: list[list[str]], *,
                    batch_size: int = 16) -> list[list[tuple[float, int]]]:
    """Summed log-probability and token count of every choice after its question.

    Scored as lm-evaluation-harness scores multiple-choice tasks (ARC, MMLU): the model reads the
    question (with the chat template, as in training) and each choice's tokens are scored after it.
    Each question's prompt is run once and its key/value cache is shared by its choices, so a
    question with k choices costs about one prompt plus k short answers. Length-normalised scores
    are ``logprob / tokens``.
    """
    check(len(questions) == len(choices) and len(questions) > 0,
          "choice_logprobs needs one list of choices per question, and at least one question.")
    check(all(len(c) >= 2 for c in choices), "Every question needs at least two choices.")
    from .statistics import pad_batch as pad_answers  # right padding: answers continue their prompts' cache

    device = next(model.parameters()).device
    pad = _pad_id(tokenizer)
    was_training = model.training
    model.eval()
    out: list[list[tuple[float, int]]] = []
    try:
        for start in range(0, len(questions), batch_size):
            chunk = range(start, min(start + batch_size, len(questions)))
            tokens = [[_choice_tokens(tokenizer, questions[i], c) for c in choices[i]] for i in chunk]
            prompts = [t[0][0] for t in tokens]
            check(all(p == prompts[j] for j, t in enumerate(tokens) for p, _ in t),
                  "The choices of one question must share its prompt tokens.")
            check(all(a for t in tokens for _, a in t), "Every choice must have at least one token.")
            # Prompts left-padded so every prompt ends in the last column; positions count real tokens only.
            width = max(map(len, prompts))
            ids = torch.full((len(prompts), width), pad, dtype=torch.long)
            mask = torch.zeros_like(ids)
            for row, p in enumerate(prompts):
                ids[row, width - len(p):] = torch.tensor(p)
                mask[row, width - len(p):] = 1
            positions = (mask.cumsum(1) - 1).clamp(min=0)
            first = model(input_ids=ids.to(device), attention_mask=mask.to(device),
                          position_ids=positions.to(device), use_cache=True, logits_to_keep=1)
            counts = [len(t) for t in tokens]
            repeat = torch.tensor(counts)
            cache = first.cache  # one row per question -> one row per choice
            cache.batch_select_indices(torch.repeat_interleave(torch.arange(len(prompts)), repeat).to(device))
            answers = [a for t in tokens for _, a in t]
            a_ids, a_mask = pad_answers(answers, pad, device)
            lengths = mask.sum(1).repeat_interleave(repeat)
            rest = model(input_ids=a_ids,
                         attention_mask=torch.cat([mask.repeat_interleave(repeat, 0).to(device), a_mask], 1),
                         position_ids=(lengths[:, None] + torch.arange(a_ids.shape[1])).to(device),
                         cache=cache, use_cache=False)
            # The answer's first token is predicted by the prompt's last position, the others by the answer.
            logits = torch.cat([first.logits[:, -1:].repeat_interleave(repeat.to(device), 0), rest.logits[:, :-1]], 1).float()
            logp = torch.log_softmax(logits, -1).gather(-1, a_ids[..., None])[..., 0]
            sums = (logp * a_mask).sum(1).tolist()
            flat = iter(zip(sums, map(len, answers)))
            out += [[next(flat) for _ in range(n)] for n in counts]
    finally:
        model.train(was_training)
    return out
