"""Builds the Blocks app from the tab modules and launches it."""

from __future__ import annotations

import os

import gradio as gr

from . import engine
from .session import STORE
from .tabs import ask, covariances, data, export, finetune, generations, subspace

MAX_FILE_SIZE = os.environ.get("SCLORA_MAX_FILE_SIZE", "20mb")


def _refresh_after_covariances(key):
    """Layer / module pickers of the β tab, once the covariances exist."""
    session = STORE.get(key)
    if session.statistics is None:
        return gr.skip(), gr.skip()
    layers, kinds = covariances.layers_and_kinds(session)
    return gr.update(choices=layers, value=layers[len(layers) // 2]), gr.update(choices=kinds, value=kinds[0])


def _refresh_runs(key):
    return generations.refresh_choices(key), export.refresh_choices(key)


def _drop_session(key) -> None:
    STORE.drop(key)


def build_app(model_name: str = "bundled") -> gr.Blocks:
    engine.set_default_model(model_name)
    with gr.Blocks(title="SC-LoRA Explorer") as demo:
        gr.Markdown(
            "# SC-LoRA Explorer\n"
            "Knowledge-preserving LoRA initialisation ([arXiv 2505.23724](https://arxiv.org/abs/2505.23724)): "
            f"started with **{engine.model_label()}**. Work through the tabs from left to right."
        )
        # Holds only the browser session's key: the data, statistics and runs live in explorer.session.STORE,
        # which drops a session when its tab closes (delete_callback) or after SCLORA_SESSION_TTL idle seconds.
        # A plain function, not the bound STORE.drop: Gradio deep-copies the app's config (this callback
        # included) for every page load, and a bound method would copy the whole store, every session's
        # statistics with it.
        state = gr.State(None, delete_callback=_drop_session)
        STORE.start_reaper()
        with gr.Tabs(elem_id="tabs"):
            with gr.Tab("1. Model & data", id="data", elem_id="tab-data"):
                data_tab = data.build(state)
            with gr.Tab("2. Covariance spectra", id="covariances", elem_id="tab-covariances"):
                cov_tab = covariances.build(state)
            with gr.Tab("3. Subspace & β trade-off", id="subspace", elem_id="tab-subspace"):
                sub_tab = subspace.build(state)
            with gr.Tab("4. Fine-tune & compare", id="finetune", elem_id="tab-finetune"):
                ft_tab = finetune.build(state)
            with gr.Tab("5. Generations", id="generations", elem_id="tab-generations"):
                gen_tab = generations.build(state)
            with gr.Tab("6. Export", id="export", elem_id="tab-export"):
                exp_tab = export.build(state)
            with gr.Tab("Ask the base model", id="ask", elem_id="tab-ask"):
                ask.build()
        cov_tab["event"].then(_refresh_after_covariances, state, [sub_tab["layer"], sub_tab["kind"]],
                              api_visibility="private")
        for trigger in (ft_tab["event"].then, ft_tab["refresh"].click, data_tab["event"].then):
            trigger(_refresh_runs, state, [gen_tab["runs"], exp_tab["run"]], api_visibility="private")
    return demo


def launch(demo: gr.Blocks, **kwargs):
    """Launch with the project's limits; GRADIO_SERVER_NAME / GRADIO_SERVER_PORT are honoured."""
    # Handlers mostly wait on shared results (explorer.shared), whose heavy work takes turns on its own
    # queue; so the Gradio queue is wide, and light requests never wait behind a computation.
    demo.queue(max_size=int(os.environ.get("SCLORA_QUEUE_SIZE", "64")), default_concurrency_limit=4)
    options = dict(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        max_file_size=MAX_FILE_SIZE,
        css=generations.CARD_CSS,
    )
    options.update(kwargs)
    return demo.launch(**options)
