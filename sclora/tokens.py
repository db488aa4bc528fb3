"""Formatting and tokens: records as the model sees them, token ids and loss masks.

Prompt/response and chat records are formatted with the tokenizer's chat template when it has one,
else with the plain template ``Question: …\\nAnswer: …``. Covariances use all tokens of the
formatted sample (the paper's choice); the training loss covers the response tokens only.
"""

from __future__ import annotations

import statistics as _stats

from .data import Examples, TokenizedExamples
from .errors import check

IGNORE_INDEX = -100  # label value that PyTorch's cross-entropy skips

# The plain template (tokenizers without a chat template). sclora.generation.format_prompt uses the
# same "Question: …\nAnswer:" prompt, so what is trained is what is asked at generation time.
PLAIN_SYSTEM = "{content}\n\n"
PLAIN_USER = "Question: {content}\n"
PLAIN_ASSISTANT = "Answer: {content}\n\n"
PLAIN_ANSWER_PREFIX = "Answer:"


# --------------------------------------------------------------------------- formatting & tokens


def record_shape(record: dict) -> str:
    """The shape of one normalised record."""
    if "messages" in record:
        return "chat"
    if "prompt" in record:
        return "prompt_response"
    check("text" in record, f"Not a normalised record (no 'text', 'prompt' or 'messages'): {sorted(record)}.")
    return "text"


def record_messages(record: dict) -> list[dict]:
    """Prompt/response and chat records as a message list (the response is the last assistant turn)."""
    if "messages" in record:
        return record["messages"]
    return [{"role": "user", "content": record["prompt"]}, {"role": "assistant", "content": record["response"]}]


def plain_template(messages: list[dict]) -> tuple[str, str]:
    """(prompt, full) with the documented plain template; the last message is the assistant's response."""
    parts = {"system": PLAIN_SYSTEM, "user": PLAIN_USER, "assistant": PLAIN_ASSISTANT}
    prompt = "".join(parts[m["role"]].format(content=m["content"]) for m in messages[:-1]) + PLAIN_ANSWER_PREFIX
    return prompt, f"{prompt} {messages[-1]['content']}"


def has_chat_template(tokenizer) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def format_example(record: dict, tokenizer) -> tuple[str, str]:
    """(prompt_text, full_text) of one record as the model sees it.

    Text records: ``("", text)``. Others: the tokenizer's chat template when it has one (the prompt
    ends with the generation prompt), else :func:`plain_template`.
    """
    if record_shape(record) == "text":
        return "", record["text"]
    messages = record_messages(record)
    if not has_chat_template(tokenizer):
        return plain_template(messages)
    prompt = tokenizer.apply_chat_template(messages[:-1], add_generation_prompt=True, tokenize=False)
    full = tokenizer.apply_chat_template(messages, tokenize=False)
    return prompt, full


def text_ids(tokenizer, text: str, special: bool) -> list[int]:
    return list(tokenizer(text, add_special_tokens=special)["input_ids"])


def common_prefix_length(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def tokenize_example(record: dict, tokenizer, loss_on: str = "response") -> tuple[list[int], list[int]]:
    """(input_ids, labels) of one record, untruncated; see :func:`tokenize_examples`."""
    prompt, full = format_example(record, tokenizer)
    if not prompt:  # text record: as it is, with the tokenizer's default special tokens, loss everywhere
        ids = text_ids(tokenizer, full, special=True)
        return ids, list(ids)
    templated = has_chat_template(tokenizer)
    # A chat template writes its own special tokens; the plain template gets the tokenizer's defaults
    # (e.g. BOS) like text, and an EOS after the response so the model learns to stop.
    ids = text_ids(tokenizer, full, special=not templated)
    if not templated and tokenizer.eos_token_id is not None and (not ids or ids[-1] != tokenizer.eos_token_id):
        ids.append(tokenizer.eos_token_id)
    # The prompt is a prefix of the full text; a token merging across the boundary counts as prompt.
    n_prompt = common_prefix_length(ids, text_ids(tokenizer, prompt, special=not templated))
    if loss_on == "all":
        return ids, list(ids)
    return ids, [IGNORE_INDEX] * n_prompt + ids[n_prompt:]


def tokenize_examples(examples: Examples, tokenizer, max_length: int = 512, loss_on: str = "response") -> TokenizedExamples:
    """Token ids of every formatted sample and training labels.

    ``input_ids`` are all tokens of the formatted sample (what covariances use). ``labels`` equal
    them except ``-100`` on the prompt tokens when ``loss_on="response"`` (``"all"``: no mask;
    text records always have the loss on every token). Samples longer than ``max_length`` keep
    their first ``max_length`` tokens and are counted in ``n_truncated``.
    """
    check(isinstance(max_length, int) and not isinstance(max_length, bool) and max_length >= 1,
          f"max_length must be a whole number >= 1, got {max_length!r}.")
    check(loss_on in ("response", "all"), f"loss_on must be 'response' or 'all', got {loss_on!r}.")
    check(len(examples) > 0, f"{examples.source} has no records to tokenize.")
    input_ids, labels, truncated = [], [], 0
    for record in examples.records:
        ids, lab = tokenize_example(record, tokenizer, loss_on)
        if len(ids) > max_length:
            ids, lab, truncated = ids[:max_length], lab[:max_length], truncated + 1
        input_ids.append(ids)
        labels.append(lab)
    return TokenizedExamples(input_ids=input_ids, labels=labels, n_truncated=truncated)


def token_length_stats(examples: Examples, tokenizer, max_length: int = 512) -> dict:
    """min / median / max token length of the formatted samples (before truncation) and the truncated count."""
    check(isinstance(max_length, int) and max_length >= 1, f"max_length must be a whole number >= 1, got {max_length!r}.")
    check(len(examples) > 0, f"{examples.source} has no records.")
    lengths = [len(tokenize_example(r, tokenizer)[0]) for r in examples.records]
    return {"min": min(lengths), "median": _stats.median(lengths), "max": max(lengths),
            "truncated": sum(n > max_length for n in lengths), "max_length": max_length}


def qa_pairs(examples: Examples) -> list[tuple[str, str]]:
    """(prompt, reference answer) per record, for generation and scoring.

    Chat records give the last user message before the final assistant turn and that turn
    (earlier turns and the system message are not part of the prompt).
    """
    check(examples.shape in ("prompt_response", "chat"),
          f"{examples.source} has {examples.shape!r} records, which have no prompts and answers; "
          "use prompt/response or chat records.")
    pairs = []
    for record in examples.records:
        messages = record_messages(record)
        user = [m["content"] for m in messages[:-1] if m["role"] == "user"][-1]
        pairs.append((user, messages[-1]["content"]))
    return pairs
