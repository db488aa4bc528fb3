"""Small helpers shared by the tabs: teaching-mode text, errors, progress adapters, session lookup."""

from __future__ import annotations

import contextvars
import threading

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


def preparing(done: int, total: int, desc: str) -> str:
    return f"Preparing: {desc} ({100 * done / total if total else 0:.0f} %)"


def while_preparing(work, progress=None, interval_s: float = 1.0, describe=preparing):
    """Run ``work(report)`` in a thread and say how far it is while it runs.

    Yields ``(describe(done, total, desc), None)`` about every ``interval_s`` while the work goes on (shared
    work that someone else, or the server, started shows its own progress here), then ``("", result)``;
    the work's exception is raised here. A quick answer (a cached result) yields only the result.
    ``gr.Progress`` is driven from this (the request's) thread: it does not work from another one.
    """
    state = [0, 0, "starting"]
    box: dict = {}
    finished = threading.Event()

    def report(done: int, total: int, desc: str) -> None:
        state[:] = [done, total, desc]

    def run() -> None:
        try:
            box["value"] = work(report)
        except BaseException as exc:  # raised in the request's thread below
            box["error"] = exc
        finally:
            finished.set()

    # With the request's context variables (Gradio's request, ZeroGPU's quota) in the worker thread.
    threading.Thread(target=contextvars.copy_context().run, args=(run,), name="sclora-request", daemon=True).start()
    while not finished.wait(interval_s):
        done, total, desc = state
        if progress is not None:
            progress((done, total) if total else None, desc=desc)
        yield describe(done, total, desc), None
    if "error" in box:
        raise box["error"]
    yield "", box["value"]


def bullet_list(lines: list[str]) -> str:
    return "\n".join(f"- {line}" for line in lines)
