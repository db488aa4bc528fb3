"""The Gradio layer of SC-LoRA Explorer: one module per tab, session state, no math."""

from .app import build_app, launch

__all__ = ["build_app", "launch"]
