"""Builds the Blocks app from the tab modules and launches it."""

from __future__ import annotations

import os

import gradio as gr

from . import engine
from .tabs import ask


def build_app(model_name: str = "bundled") -> gr.Blocks:
    engine.set_default_model(model_name)
    with gr.Blocks(title="SC-LoRA Explorer") as demo:
        gr.Markdown(
            "# SC-LoRA Explorer\n"
            "Knowledge-preserving LoRA initialisation ([arXiv 2505.23724](https://arxiv.org/abs/2505.23724)): "
            f"model **{engine.model_label()}**."
        )
        with gr.Tabs():
            with gr.Tab("Ask the model"):
                ask.build()
    return demo


def launch(demo: gr.Blocks, **kwargs):
    """Launch with the project's limits; GRADIO_SERVER_NAME / GRADIO_SERVER_PORT are honoured."""
    demo.queue(max_size=int(os.environ.get("SCLORA_QUEUE_SIZE", "16")), default_concurrency_limit=2)
    options = dict(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        max_file_size="20mb",
    )
    options.update(kwargs)
    return demo.launch(**options)
