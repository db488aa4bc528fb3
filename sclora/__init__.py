"""SC-LoRA Explorer: knowledge-preserving LoRA initialisation (arXiv 2505.23724).

The library never imports Gradio. The data path is
examples -> statistics -> subspaces -> adapters -> fine-tune -> evaluation -> export.
"""

from .errors import SCLoRAError

__version__ = "0.1.0"
__all__ = ["SCLoRAError", "__version__", "get_sclora_model"]


def get_sclora_model(*args, **kwargs):
    """SC-LoRA as a ``peft.PeftModel`` for any trainer; see :func:`sclora.peft_api.get_sclora_model`."""
    from .peft_api import get_sclora_model as build

    return build(*args, **kwargs)
