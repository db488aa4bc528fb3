"""Tab 5, Generations: the same prompts answered by the base model and each trained adapter."""

from __future__ import annotations

import gradio as gr
import pandas as pd

from sclora.compare import side_by_side
from sclora.tokens import qa_pairs
from sclora.errors import SCLoRAError, check

from .. import engine
from ..common import require_data, session_for, teaching, user_error
from ..session import Session

INTRO = r"""
Greedy answers (deterministic) through the model's chat template: the **base** model in the first column,
then one column per trained adapter (loaded from its run folder onto a copy of the base). Use held-out
prompts of both sets: an adapter should answer the fine-tune prompts in the new way and still answer the
preserve prompts as the base did. Automatic scores are in the results table of the previous tab.
"""
HELDOUT_PER_SET = 3


def heldout_prompts(session: Session, per_set: int = HELDOUT_PER_SET) -> str:
    """A few held-out prompts of each set, one per line."""
    require_data(session)
    prompts = []
    for examples in (session.data.finetune_heldout, session.data.preserve_heldout):
        if examples.shape in ("prompt_response", "chat"):
            prompts += [p.replace("\n", " ") for p, _ in qa_pairs(examples)[:per_set]]
    return "\n".join(prompts)


def run_labels(session: Session) -> list[str]:
    return list(session.runs)


def generate_table(session: Session, prompts_text: str, labels, max_new_tokens: int) -> pd.DataFrame:
    """Side-by-side answers for the prompts (one per line) from the base and the chosen runs."""
    prompts = [p.strip() for p in str(prompts_text or "").splitlines() if p.strip()]
    check(prompts, "Type at least one prompt (one per line), or fill in held-out prompts.")
    check(len(prompts) <= 32, f"At most 32 prompts at a time, got {len(prompts)}.")
    labels = list(labels or [])
    unknown = [label for label in labels if label not in session.runs]
    check(not unknown, f"You have no run named {unknown[0]!r}: fine-tune first." if unknown else "")
    adapters = {label: session.runs[label].path / "adapter" for label in labels}
    return _side_by_side(session.model_name or engine.default_model_name(), adapters, prompts, int(max_new_tokens))


@engine.gpu(duration=120)
def _side_by_side(model_name: str, adapters: dict, prompts: list[str], max_new_tokens: int) -> pd.DataFrame:
    model, tokenizer = engine.get_model(model_name)
    return side_by_side(model, tokenizer, adapters, prompts, max_new_tokens=max_new_tokens)


def on_generate(key, prompts_text, labels, max_new_tokens, progress=gr.Progress()):
    """Handler of 'Generate' (API: /generate)."""
    session = session_for(key)
    try:
        progress(0.1, desc=f"Generating with the base model and {len(labels or [])} adapter(s)")
        return generate_table(session, prompts_text, labels, max_new_tokens)
    except SCLoRAError as exc:
        raise user_error(exc) from exc


def on_fill(key):
    try:
        return heldout_prompts(session_for(key))
    except SCLoRAError as exc:
        raise user_error(exc) from exc


def refresh_choices(key):
    labels = run_labels(session_for(key))
    return gr.update(choices=labels, value=labels)


def build(state: gr.State) -> dict:
    teaching(INTRO, "intro-generations")
    prompts = gr.Textbox("What is the capital of France?\nTom has 3 apples and buys 4 more. How many apples "
                         "does he have?", lines=5, label="Prompts (one per line)", elem_id="gen-prompts")
    with gr.Row():
        fill = gr.Button("Use held-out prompts", elem_id="gen-fill")
        # A dropdown that takes any value: API callers name runs the browser has not been told about.
        runs = gr.Dropdown([], multiselect=True, allow_custom_value=True, label="Trained adapters",
                           elem_id="gen-runs")
        max_new = gr.Slider(1, 256, value=48, step=1, label="Max new tokens", elem_id="gen-max-new")
    button = gr.Button("Generate", variant="primary", elem_id="generate-button")
    table = gr.Dataframe(label="Answers side by side", wrap=True, elem_id="generations-table")
    fill.click(on_fill, state, prompts, api_visibility="private")
    event = button.click(on_generate, [state, prompts, runs, max_new], table, api_name="generate",
                         concurrency_id="heavy", concurrency_limit=1)
    return {"event": event, "runs": runs}
