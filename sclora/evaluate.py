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

import copy
import dataclasses
import math

import torch

from .errors import check
from .train import autocast_context, pad_batch, token_loss_sum

# How many new tokens a greedy answer may take, per metric: enough for the bundled formats (a math
# reference takes at most 37 tokens), short enough that generation stays a small part of a CPU run.
MAX_NEW_TOKENS = {"math": 48, "exact": 24, "refusal": 32, "style": 40}
# Greedy answers are read this many prompts at a time at most: decoding a small model on a CPU costs
# about the same per step for 1 or 32 rows, so one wide batch is far cheaper than several narrow ones.
ANSWER_BATCH = 32
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
                    max_new_tokens: int | None = None, batch_size: int = 8,
                    choices: list[list[str]] | None = None) -> tuple[float, list[dict]]:
    """Fraction of the first ``max_eval`` held-out prompts whose greedy answer passes ``metric``.

    Returns ``(accuracy, rows)``, one row per prompt: prompt, reference, answer, correct. With
    ``choices`` (per prompt: the right answer first, then wrong ones) each row also has
    ``choice_correct``: the right answer scores the best length-normalised log-probability, as
    lm-evaluation-harness scores ARC or MMLU. Prompts are read once for both (:func:`choices_and_answers`).
    """
    from .answers import score_answer
    from .tokens import qa_pairs

    check(metric in METRIC_RULES, f"Unknown metric {metric!r}: choose one of {', '.join(METRIC_RULES)}.")
    check(isinstance(max_eval, int) and max_eval >= 1, f"Parameter 'max_eval' must be an integer >= 1, got {max_eval!r}.")
    pairs = qa_pairs(examples)[:max_eval]
    check(len(pairs) > 0, f"The held-out set {getattr(examples, 'source', '')!r} has no prompts to answer.")
    if choices is not None:
        choices = choices[: len(pairs)]
        check(len(choices) == len(pairs), "Give one list of choices per held-out prompt.")
    scores, answers = choices_and_answers(model, tokenizer, [p for p, _ in pairs], choices,
                                          max_new_tokens=max_new_tokens or MAX_NEW_TOKENS[metric],
                                          batch_size=batch_size)
    rows = [{"prompt": p, "reference": r, "answer": a, "correct": score_answer(metric, a, r)}
            for (p, r), a in zip(pairs, answers)]
    for row, score in zip(rows, scores or []):
        normalised = [logprob / n for logprob, n in score]
        row["choice_correct"] = normalised[0] > max(normalised[1:])  # a tie is not a right answer
    return sum(row["correct"] for row in rows) / len(rows), rows


# --------------------------------------------------------------------------- both sets


def evaluate(model, tokenizer, finetune_heldout, preserve_heldout, *, finetune_metric: str | None = None,
             preserve_metric: str | None = None, max_length: int = 256, batch_size: int = 8,
             max_eval: int = DEFAULT_MAX_EVAL, max_loss: int | None = None,
             preserve_choices: list[list[str]] | None = None, generations: bool = True) -> dict:
    """Loss, perplexity and (where a metric applies) answer accuracy on both held-out sets.

    Keys: ``finetune_loss``, ``finetune_perplexity``, ``preserve_loss``, ``preserve_perplexity``,
    ``finetune_accuracy`` / ``preserve_accuracy`` (None when the set has no answer metric or
    ``generations`` is False), ``preserve_choice_accuracy`` (with ``preserve_choices``: one list per
    held-out preserve prompt, the right answer first), and ``answers``: the per-prompt rows, each
    tagged with its ``set``. ``max_loss`` scores the losses on the first ``max_loss`` held-out records
    only (the same records every time: a fixed subset), None on all of them. Answers are read in batches
    of up to ``ANSWER_BATCH`` prompts (or ``batch_size`` when larger).
    """
    check(max_loss is None or (isinstance(max_loss, int) and max_loss >= 1),
          f"Parameter 'max_loss' must be an integer >= 1 or None, got {max_loss!r}.")
    out: dict = {"answers": []}
    for role, examples, metric in (("finetune", finetune_heldout, finetune_metric),
                                   ("preserve", preserve_heldout, preserve_metric)):
        scored = examples if max_loss is None else dataclasses.replace(examples, records=examples.records[:max_loss])
        loss = heldout_loss(model, tokenizer, scored, max_length=max_length, batch_size=batch_size)
        out[f"{role}_loss"] = loss["loss"]
        out[f"{role}_perplexity"] = loss["perplexity"]
        out[f"{role}_accuracy"] = None
        choices = preserve_choices if role == "preserve" else None
        if generations and metric in METRIC_RULES:
            acc, rows = answer_accuracy(model, tokenizer, examples, metric, max_eval=max_eval,
                                        batch_size=max(batch_size, min(max_eval, ANSWER_BATCH)), choices=choices)
            out[f"{role}_accuracy"] = acc
            out["answers"] += [{"set": role, "metric": metric, **row} for row in rows]
            if choices is not None:
                out["preserve_choice_accuracy"] = sum(r["choice_correct"] for r in rows) / len(rows)
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


def choice_logprobs(model, tokenizer, questions: list[str], choices: list[list[str]], *,
                    batch_size: int = 16) -> list[list[tuple[float, int]]]:
    """Summed log-probability and token count of every choice after its question.

    Scored as lm-evaluation-harness scores multiple-choice tasks (ARC, MMLU): the model reads the
    question (with the chat template, as in training) and each choice's tokens are scored after it.
    Length-normalised scores are ``logprob / tokens``. See :func:`choices_and_answers`.
    """
    return choices_and_answers(model, tokenizer, questions, choices, batch_size=batch_size)[0]


@torch.no_grad()
def choices_and_answers(model, tokenizer, questions: list[str], choices: list[list[str]] | None = None, *,
                        max_new_tokens: int = 0, batch_size: int = 16):
    """Each question read once: its ``choices`` scored, and/or its greedy answer of ``max_new_tokens``.

    Returns ``(scores, answers)``: per question the (summed log-probability, token count) of each
    choice, or None without choices; and the greedy answer as :func:`sclora.generation.generate`
    gives it (stops at end of turn, decoded without special tokens), or None when
    ``max_new_tokens`` is 0.

    Nothing of a prompt is computed twice: the beginning all prompts share (a chat template's
    system prompt) is read once for all of them, each batch reads the rest of its prompts once,
    and both the choices and the greedy answer continue from that key/value cache, so a question
    with k choices costs about its own prompt words, k short answers and the answer's tokens.
    """
    from .generation import format_prompt
    from .tokens import common_prefix_length, has_chat_template, text_ids

    check(len(questions) > 0, "There are no questions to read: give at least one.")
    check(choices is None or len(choices) == len(questions),
          "choices_and_answers needs one list of choices per question.")
    check(choices is None or all(len(c) >= 2 for c in choices), "Every question needs at least two choices.")
    check(isinstance(max_new_tokens, int) and 0 <= max_new_tokens <= 1024,
          f"max_new_tokens must be between 0 and 1024, got {max_new_tokens!r}.")
    check(choices is not None or max_new_tokens > 0, "Nothing to do: give choices to score or max_new_tokens > 0.")
    chat = has_chat_template(tokenizer)
    prompts = [text_ids(tokenizer, format_prompt(tokenizer, q), not chat) for q in questions]
    tokens = None
    if choices is not None:
        tokens = [[_choice_tokens(tokenizer, q, c) for c in options] for q, options in zip(questions, choices)]
        check(all(p == prompt for t, prompt in zip(tokens, prompts) for p, _ in t),
              "Every choice must continue its question's prompt tokens (no token may merge across the boundary).")
        check(all(a for t in tokens for _, a in t), "Every choice must have at least one token.")
    device = next(model.parameters()).device
    pad = _pad_id(tokenizer)
    # The shared beginning, read once; every prompt keeps at least one token of its own.
    shared = min(min(common_prefix_length(prompts[0], p) for p in prompts), min(map(len, prompts)) - 1)
    scores: list = []
    answers: list[str] = []
    size = math.ceil(len(questions) / math.ceil(len(questions) / batch_size))  # even batches, none nearly empty
    was_training = model.training
    model.eval()
    try:
        prefix_cache = None
        if shared > 0:
            prefix_cache = model(input_ids=torch.tensor([prompts[0][:shared]], device=device), use_cache=True,
                                 logits_to_keep=1).cache
        for start in range(0, len(questions), size):
            rows = range(start, min(start + size, len(questions)))
            # The rest of each prompt, left-padded so it ends in the last column; positions count real tokens.
            rest = [prompts[i][shared:] for i in rows]
            width = max(map(len, rest))
            ids = torch.full((len(rest), width), pad, dtype=torch.long)
            mask = torch.ones((len(rest), shared + width), dtype=torch.long)
            mask[:, shared:] = 0
            for row, r in enumerate(rest):
                ids[row, width - len(r):] = torch.tensor(r)
                mask[row, shared + width - len(r):] = 1
            positions = (mask.cumsum(1) - 1)[:, shared:].clamp(min=0)
            cache = None
            if prefix_cache is not None:
                cache = copy.deepcopy(prefix_cache)
                cache.batch_select_indices(torch.zeros(len(rest), dtype=torch.long, device=device))
            mask = mask.to(device)
            read = model(input_ids=ids.to(device), attention_mask=mask, position_ids=positions.to(device),
                         cache=cache, use_cache=True, logits_to_keep=1)
            last = read.logits[:, -1].float()
            if tokens is not None:
                scoring = copy.deepcopy(read.cache) if max_new_tokens else read.cache
                scores += _choice_scores(model, scoring, last, mask, [tokens[i] for i in rows], pad)
            if max_new_tokens:
                answers += _greedy_answers(model, tokenizer, read.cache, last, mask, max_new_tokens, pad)
    finally:
        model.train(was_training)
    return (scores if tokens is not None else None), (answers if max_new_tokens else None)


def _choice_scores(model, cache, last_logits, mask, tokens, pad: int) -> list[list[tuple[float, int]]]:
    """(summed log-probability, token count) of each choice, continuing the prompts' ``cache``."""
    from .statistics import pad_batch as pad_answers  # right padding: answers continue their prompts' cache

    device = mask.device
    counts = [len(t) for t in tokens]
    repeat = torch.tensor(counts, device=device)
    cache.batch_select_indices(torch.repeat_interleave(torch.arange(len(tokens), device=device), repeat))
    answers = [a for t in tokens for _, a in t]
    a_ids, a_mask = pad_answers(answers, pad, device)
    lengths = mask.sum(1).repeat_interleave(repeat)
    rest = model(input_ids=a_ids, attention_mask=torch.cat([mask.repeat_interleave(repeat, 0), a_mask], 1),
                 position_ids=lengths[:, None] + torch.arange(a_ids.shape[1], device=device), cache=cache,
                 use_cache=False)
    # The answer's first token is predicted by the prompt's last position, the others by the answer.
    logits = torch.cat([last_logits.repeat_interleave(repeat, 0)[:, None], rest.logits[:, :-1].float()], 1)
    logp = torch.log_softmax(logits, -1).gather(-1, a_ids[..., None])[..., 0]
    flat = iter(zip((logp * a_mask).sum(1).tolist(), map(len, answers)))
    return [[next(flat) for _ in range(n)] for n in counts]


def _greedy_answers(model, tokenizer, cache, logits, mask, max_new_tokens: int, pad: int) -> list[str]:
    """Greedy decoding from the prompts' ``cache``, as ``model.generate(do_sample=False)`` does it."""
    stop = model.generation_config.eos_token_id
    stop = torch.tensor([tokenizer.eos_token_id] if stop is None else stop if isinstance(stop, list) else [stop],
                        device=mask.device)
    finished = torch.zeros(len(mask), dtype=torch.bool, device=mask.device)
    position = mask.sum(1, keepdim=True)
    new = []
    for step in range(max_new_tokens):
        token = logits.argmax(-1).masked_fill(finished, pad)
        new.append(token)
        finished |= torch.isin(token, stop)
        if step == max_new_tokens - 1 or bool(finished.all()):
            break
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], 1)
        logits = model(input_ids=token[:, None], attention_mask=mask, position_ids=position + step, cache=cache,
                       use_cache=True).logits[:, -1].float()
    return [a.strip() for a in tokenizer.batch_decode(torch.stack(new, 1), skip_special_tokens=True)]
