"""Greedy generation for prompts, used by the app, the CLI and side-by-side comparisons."""

from __future__ import annotations

import torch

from .errors import check


def format_prompt(tokenizer, prompt: str) -> str:
    """The prompt as the model sees it: the chat template when the tokenizer has one."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False
        )
    return f"Question: {prompt}\nAnswer:"


@torch.no_grad()
def generate(model, tokenizer, prompts: list[str], max_new_tokens: int = 64, batch_size: int = 8) -> list[str]:
    """Greedy answers to ``prompts`` (deterministic), decoded without special tokens."""
    check(len(prompts) > 0, "There are no prompts to answer: give at least one.")
    check(all(isinstance(p, str) and p.strip() for p in prompts), "Prompts must be non-empty strings.")
    check(1 <= max_new_tokens <= 1024, f"max_new_tokens must be between 1 and 1024, got {max_new_tokens}.")
    check(tokenizer.pad_token is not None, "The tokenizer has no pad token, which batched generation needs: "
          "set tokenizer.pad_token = tokenizer.eos_token (sclora.models.load_model does this).")
    device = next(model.parameters()).device
    side, tokenizer.padding_side = tokenizer.padding_side, "left"  # generation continues on the right
    answers: list[str] = []
    chat = bool(getattr(tokenizer, "chat_template", None))
    try:
        for start in range(0, len(prompts), batch_size):
            texts = [format_prompt(tokenizer, p) for p in prompts[start : start + batch_size]]
            # A chat template already holds its special tokens; the plain template gets the defaults (BOS),
            # as in training (sclora.tokens).
            enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=not chat).to(device)
            out = model.generate(
                **enc, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id
            )
            new = out[:, enc["input_ids"].shape[1] :]
            answers += [t.strip() for t in tokenizer.batch_decode(new, skip_special_tokens=True)]
    finally:
        tokenizer.padding_side = side
    return answers
