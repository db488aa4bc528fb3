"""SC-LoRA Explorer: knowledge-preserving LoRA initialisation (arXiv 2505.23724).

The library never imports Gradio. The data path is
examples -> statistics -> subspaces -> adapters -> fine-tune -> evaluation -> export.
"""

from .errors import SCLoRAError

__version__ = "0.1.0"
__all__ = ["SCLoRAError", "__version__"]
