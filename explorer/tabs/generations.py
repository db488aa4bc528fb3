"""Tab 5, Generations: the same prompts answered by the base model and each trained adapter, a card per prompt."""

from __future__ import annotations

import html

import gradio as gr
import pandas as pd

from sclora.answers import score_answer
from sclora.data import bundled_dataset, split_examples
from sclora.errors import SCLoRAError, check
from sclora.tokens import qa_pairs

from .. import engine, shared
from ..common import require_data, session_for, teaching, user_error
from ..session import Session
from .data import DEFAULT_FINETUNE, DEFAULT_PRESERVE

INTRO = r"""
Greedy answers (deterministic) through the model's chat template: one card per prompt, the **base** model first,
then each trained adapter (loaded from its run folder onto a copy of the base). Use held-out prompts of both sets:
an adapter should answer the fine-tune prompts in the new way and still answer the preserve prompts as the base
did. Where a prompt is a held-out prompt of your data, its reference is shown and each answer is marked right or
wrong by the set's rule; an answer the base got right and an adapter gets wrong is marked **forgotten**, one the
base got wrong and an adapter gets right **learned**. Automatic scores are in the results table of the previous tab.
"""
HELDOUT_PER_SET = 3
DEFAULT_MAX_NEW_TOKENS = 48
CARD_CSS = """
#generations-cards .card { border: 1px solid #ddd; border-radius: 8px; padding: 10px 12px; margin: 0 0 12px 0; }
#generations-cards .prompt { font-weight: 600; margin-bottom: 4px; }
#generations-cards .reference { color: #555; font-size: 0.9em; margin-bottom: 8px; }
#generations-cards .answers { display: grid; grid-template-columns: repeat(auto-fit, minmax(240px, 1fr)); gap: 8px; }
#generations-cards .answer { border-left: 4px solid #bbb; padding: 4px 8px; white-space: pre-wrap; word-break: break-word; }
#generations-cards .answer.right { border-left-color: #2ca02c; }
#generations-cards .answer.wrong { border-left-color: #999; }
#generations-cards .answer.forgotten { border-left-color: #d62728; background: #fdecea; }
#generations-cards .answer.learned { border-left-color: #2ca02c; background: #eaf6ea; }
#generations-cards .who { font-size: 0.8em; color: #444; font-weight: 600; }
"""


def _heldout_prompts(finetune_heldout, preserve_heldout, per_set: int) -> list[str]:
    prompts = []
    for examples in (finetune_heldout, preserve_heldout):
        if examples.shape in ("prompt_response", "chat"):
            prompts += [p.replace("\n", " ") for p, _ in qa_pairs(examples)[:per_set]]
    return prompts


def default_prompts(per_set: int = HELDOUT_PER_SET) -> list[str]:
    """The first held-out prompts of each default set (the split every session of the default data has)."""
    held = [split_examples(bundled_dataset(name), heldout=0.2, seed=0)[1] for name in (DEFAULT_FINETUNE, DEFAULT_PRESERVE)]
    return _heldout_prompts(*held, per_set)


def heldout_prompts(session: Session, per_set: int = HELDOUT_PER_SET) -> str:
    """A few held-out prompts of each set, one per line."""
    require_data(session)
    return "\n".join(_heldout_prompts(session.data.finetune_heldout, session.data.preserve_heldout, per_set))


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
    return shared.side_by_side(session.model_name or engine.default_model_name(), adapters, prompts,
                               int(max_new_tokens))


def references(session: Session) -> dict[str, tuple[str, str, str]]:
    """prompt -> (set, reference, metric) for the held-out prompts of the session's data that have a metric."""
    out = {}
    if session.data is None:
        return out
    for role, examples, metric in (("finetune", session.data.finetune_heldout, session.data.finetune_metric),
                                   ("preserve", session.data.preserve_heldout, session.data.preserve_metric)):
        if metric and examples.shape in ("prompt_response", "chat"):
            out.update({p.replace("\n", " "): (role, r, metric) for p, r in qa_pairs(examples)})
    return out


def cards(table: pd.DataFrame, known: dict[str, tuple[str, str, str]]) -> str:
    """One card per prompt: its reference where known, then each model's answer, marked against the reference."""
    out = []
    for _, row in table.iterrows():
        role, reference, metric = known.get(row["prompt"], (None, None, None))
        base_right = score_answer(metric, row["base"], reference) if metric else None
        answers = []
        for who in table.columns[1:]:
            mark = ""
            if metric:
                right = score_answer(metric, row[who], reference)
                mark = "right" if right else "wrong"
                if who != "base" and base_right and not right and role == "preserve":
                    mark = "forgotten"
                elif who != "base" and not base_right and right and role == "finetune":
                    mark = "learned"
            name = "Base model" if who == "base" else who
            note = f" · {mark}" if mark else ""
            answers.append(f'<div class="answer {mark}"><div class="who">{html.escape(name)}{note}</div>'
                           f"{html.escape(str(row[who]))}</div>")
        ref = (f'<div class="reference">held-out {"fine-tune" if role == "finetune" else "preserve"} prompt · '
               f"reference: {html.escape(str(reference))}</div>") if metric else ""
        out.append(f'<div class="card"><div class="prompt">{html.escape(row["prompt"])}</div>{ref}'
                   f'<div class="answers">{"".join(answers)}</div></div>')
    return "".join(out)


def on_generate(key, prompts_text, labels, max_new_tokens, progress=gr.Progress()):
    """Handler of 'Generate' (API: /generate): the cards and the same answers as a table."""
    session = session_for(key)
    try:
        progress(0.1, desc=f"Generating with the base model and {len(labels or [])} adapter(s)")
        table = generate_table(session, prompts_text, labels, max_new_tokens)
        return cards(table, references(session)), table
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
    prompts = gr.Textbox("\n".join(default_prompts()), lines=6, label="Prompts (one per line)", elem_id="gen-prompts")
    with gr.Row():
        fill = gr.Button("Use held-out prompts", elem_id="gen-fill")
        # A dropdown that takes any value: API callers name runs the browser has not been told about.
        runs = gr.Dropdown([], multiselect=True, allow_custom_value=True, label="Trained adapters",
                           elem_id="gen-runs")
        max_new = gr.Slider(1, 256, value=DEFAULT_MAX_NEW_TOKENS, step=1, label="Max new tokens", elem_id="gen-max-new")
    button = gr.Button("Generate", variant="primary", elem_id="generate-button")
    shown = gr.HTML(elem_id="generations-cards")
    with gr.Accordion("The same answers as a table", open=False):
        table = gr.Dataframe(label="Answers side by side", wrap=True, elem_id="generations-table")
    fill.click(on_fill, state, prompts, api_visibility="private")
    event = button.click(on_generate, [state, prompts, runs, max_new], [shown, table], api_name="generate",
                         concurrency_id="heavy", concurrency_limit=1)
    return {"event": event, "runs": runs}
