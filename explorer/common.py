"""Small helpers shared by the tabs: teaching-mode text, errors, progress adapters, session lookup."""

from __future__ import annotations

import gradio as gr

from sclora.errors import SCLoRAError

from .session import STORE, Session

LATEX = [{"left": "$$", "right": "$$", "display": True}, {"left": "$", "right": "$", "display": False}]


def teaching(text: str, elem_id: str) -> None:
    """The tab's introduction (Markdown with LaTeX) in an accordion, open by default."""
    with gr.Accordion("What this tab computes", open=True, elem_id=elem_id):
        gr.Markdown(text, latex_delimiters=LATEX)


def session_for(key: str | None) -> Session:
    return STORE.get(key)


def require_data(session: Session) -> None:
    if session.data is None:
        raise SCLoRAError("Load the data first (tab 'Model & data').")


def user_error(exc: Exception) -> gr.Error:
    """A gr.Error for this user only; library messages are written for users already."""
    return gr.Error(str(exc), print_exception=False)


class ProgressReport:
    """A library progress(done, total, desc) callback that drives a gr.Progress.

    A class, not a closure, so that it pickles into a ZeroGPU worker with its gr.Progress.
    """

    def __init__(self, progress):
        self.progress = progress

    def __call__(self, done: int, total: int, desc: str) -> None:
        self.progress((done, total), desc=desc)


def progress_adapter(progress) -> ProgressReport | None:
    return None if progress is None else ProgressReport(progress)


def bullet_list(lines: list[str]) -> str:
    return "\n".join(f"- {line}" for line in lines)
