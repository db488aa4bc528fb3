"""Which linear layers get adapters, and their weights as (d_out, d_in) matrices.

Default targets are every attention and MLP projection (q/k/v/o/gate/up/down for Llama and Qwen2;
c_attn/c_proj/c_fc for GPT-2, whose ``Conv1D`` stores its weight transposed). The LM head and
embeddings are never targets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
from torch import nn

from .errors import SCLoRAError

DEFAULT_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
                   "c_attn", "c_proj", "c_fc", "query_key_value", "dense", "fc1", "fc2", "out_proj", "dense_h_to_4h",
                   "dense_4h_to_h", "w1", "w2", "w3")
_LAYER = re.compile(r"\.(\d+)\.")


def is_linear(module: nn.Module) -> bool:
    if isinstance(module, nn.Linear):
        return True
    try:
        from transformers.pytorch_utils import Conv1D
    except ImportError:  # pragma: no cover
        return False
    return isinstance(module, Conv1D)


@dataclass(frozen=True)
class TargetModule:
    name: str   # as in model.named_modules()
    kind: str   # last name component: q_proj, c_attn, ...
    layer: int  # transformer block index (-1 when none)
    d_in: int
    d_out: int


def weight_matrix(module: nn.Module) -> torch.Tensor:
    """The layer's weight as (d_out, d_in), whatever its storage (Conv1D is transposed)."""
    return module.weight if isinstance(module, nn.Linear) else module.weight.T


def find_target_modules(model: nn.Module, patterns: str | list[str] | None = None) -> list[TargetModule]:
    """Linear layers whose name matches ``patterns`` (comma-separated names or regexes).

    A pattern matches when it equals the last name component (``q_proj``) or, failing that, when
    it is a regular expression found in the full module name (``layers\\.0\\..*proj``).
    """
    if isinstance(patterns, str):
        patterns = [p.strip() for p in patterns.split(",") if p.strip()]
    patterns = list(patterns) if patterns else list(DEFAULT_TARGETS)
    try:  # the default names are matched by kind only
        regexes = [] if patterns == list(DEFAULT_TARGETS) else [re.compile(p) for p in patterns]
    except re.error as exc:
        raise SCLoRAError(f"Module pattern is not a valid regular expression: {exc}") from exc
    found = []
    for name, module in model.named_modules():
        if not is_linear(module) or "lm_head" in name:
            continue
        kind = name.rsplit(".", 1)[-1]
        if kind in patterns or any(r.search(name) for r in regexes):
            w = weight_matrix(module)
            m = _LAYER.search(name)
            found.append(TargetModule(name, kind, int(m.group(1)) if m else -1, w.shape[1], w.shape[0]))
    if not found:
        available = sorted({n.rsplit(".", 1)[-1] for n, mod in model.named_modules() if is_linear(mod)})
        raise SCLoRAError(
            f"No linear layer matches the module patterns {patterns}. Linear layers in this model: "
            f"{', '.join(available) or 'none'}."
        )
    return found


def target_names(model: nn.Module, target_modules: str | list[str] | None = None) -> list[str]:
    """Full names of the modules to adapt, from patterns (``"q_proj,v_proj"``, regexes) or names."""
    return [t.name for t in find_target_modules(model, target_modules)]


def exact_patterns(names: list[str]) -> list[str]:
    """Anchored regexes that select exactly ``names`` (what ``collect_statistics`` takes)."""
    return ["^" + re.escape(n) + "$" for n in names]
