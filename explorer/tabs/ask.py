"""Ask the base model a question (greedy): the quickest check that the model is loaded."""

from __future__ import annotations

import gradio as gr

from sclora import SCLoRAError
from sclora.generation import generate

from .. import engine


def answer(prompt: str, max_new_tokens: int) -> str:
    model, tokenizer = engine.get_model()
    try:
        return generate(model, tokenizer, [prompt], max_new_tokens=int(max_new_tokens))[0]
    except SCLoRAError as exc:
        raise gr.Error(str(exc)) from exc


def build() -> None:
    gr.Markdown("Greedy decoding with the base model, through its chat template.")
    prompt = gr.Textbox(label="Prompt", value="What is the capital of France?")
    max_new = gr.Slider(1, 256, value=48, step=1, label="Max new tokens")
    button = gr.Button("Answer", variant="primary")
    output = gr.Textbox(label="Answer")
    button.click(answer, [prompt, max_new], output, api_name="answer")
    prompt.submit(answer, [prompt, max_new], output, api_visibility="private")
