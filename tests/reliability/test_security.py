"""Security: no remote code, no pickle, validated model ids, local folders gated, zips hold only the run's files."""

from __future__ import annotations

import os
import pickle
import re
import zipfile
from pathlib import Path

import pytest

from sclora.errors import SCLoRAError

from ._util import ROOT

CODE_DIRS = ("sclora", "explorer")


def _sources() -> list[Path]:
    files = [ROOT / "app.py"] + [p for d in CODE_DIRS for p in sorted((ROOT / d).rglob("*.py"))]
    assert len(files) > 10  # really scanned the package
    return files


def test_no_trust_remote_code_anywhere():
    """trust_remote_code appears only as an explicit False, never True nor passed through a variable."""
    offending = []
    for path in _sources():
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in re.finditer(r"trust_remote_code\s*=\s*([^,)\s]+)", line):
                if match.group(1) != "False":
                    offending.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert offending == []


def test_no_pickle_loading_in_the_code():
    pattern = re.compile(r"\btorch\.load\(|\bpickle\.loads?\(|weights_only\s*=\s*False|use_safetensors\s*=\s*False"
                         r"|\bjoblib\.load|\bdill\.|safe_serialization\s*=\s*False")
    offending = [f"{p.relative_to(ROOT)}:{n}" for p in _sources()
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]
    assert offending == []


def _evil_pickle(marker: Path) -> bytes:
    """A pickle that creates ``marker`` when it is unpickled: proof that a loader ran it."""

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    return pickle.dumps(Evil())


def test_folder_with_only_pickled_weights_is_refused(tiny, tmp_path):
    from sclora.models import load_model

    folder = tmp_path / "pickled"
    folder.mkdir()
    tiny[0].config.to_json_file(folder / "config.json")
    tiny[1].save_pretrained(folder)
    marker = tmp_path / "ran"
    (folder / "pytorch_model.bin").write_bytes(_evil_pickle(marker))
    with pytest.raises(SCLoRAError, match="no .safetensors weights"):
        load_model(str(folder), device="cpu")
    assert not marker.exists()


def test_pickled_weights_next_to_safetensors_are_ignored(tiny, tmp_path):
    import torch

    from sclora.models import load_model

    folder = tmp_path / "both"
    tiny[0].save_pretrained(folder)
    tiny[1].save_pretrained(folder)
    marker = tmp_path / "ran"
    (folder / "pytorch_model.bin").write_bytes(_evil_pickle(marker))
    model, _ = load_model(str(folder), device="cpu")
    assert not marker.exists()
    assert torch.equal(model.model.embed_tokens.weight, tiny[0].model.embed_tokens.weight)


def test_adapter_with_only_pickled_weights_is_refused(tiny, tmp_path):
    from sclora.compare import load_adapter
    from sclora.export import export_adapter
    from sclora.inits import init_adapters

    folder = export_adapter(init_adapters(tiny[0], "lora", rank=2), tmp_path / "adapter")
    (folder / "adapter_model.safetensors").unlink()
    marker = tmp_path / "ran"
    (folder / "adapter_model.bin").write_bytes(_evil_pickle(marker))
    with pytest.raises(SCLoRAError, match="has no adapter_model.safetensors"):
        load_adapter(tiny[0], folder)
    assert not marker.exists()


def test_statistics_file_that_is_a_pickle_is_refused(tmp_path):
    from sclora.statistics import load_statistics

    path = tmp_path / "cov.safetensors"
    marker = tmp_path / "ran"
    path.write_bytes(_evil_pickle(marker))
    with pytest.raises(SCLoRAError, match="is not a covariance file"):
        load_statistics(path)
    assert not marker.exists()


GOOD_IDS = ["HuggingFaceTB/SmolLM2-135M-Instruct", "Qwen/Qwen2.5-0.5B", "a/b", "user_1/model.v2"]
BAD_IDS = ["../etc/passwd", "owner/../x", "owner/..", "./model", "/abs/path", "owner/name/extra", "owner\\name",
           "https://huggingface.co/owner/name", "owner/name;ls", "owner/name && rm -rf /", "owner/$(id)", "`id`/x",
           "owner/name|cat", "owner/name\n", "owner/na me", "owner/name%2F..", "-rf/x", "owner/", "/name", "", "a" * 97 + "/b"]


@pytest.mark.parametrize("name", GOOD_IDS)
def test_hub_id_pattern_accepts(name):
    from sclora.models import HUB_ID_PATTERN

    assert HUB_ID_PATTERN.match(name)


@pytest.mark.parametrize("name", BAD_IDS, ids=[repr(b)[:30] for b in BAD_IDS])
def test_hub_id_pattern_refuses(name):
    from sclora.models import HUB_ID_PATTERN

    assert not HUB_ID_PATTERN.match(name)


@pytest.mark.parametrize("name", [b for b in BAD_IDS if b], ids=[repr(b)[:30] for b in BAD_IDS if b])
def test_app_refuses_model_names_that_are_not_hub_ids(monkeypatch, name):
    """In the app, local folders are off by default: traversal, URLs and shell text are all refused
    (surrounding whitespace is stripped, so 'owner/name\\n' becomes the plain id 'owner/name')."""
    from explorer import engine
    from sclora.models import HUB_ID_PATTERN

    monkeypatch.delenv("SCLORA_ALLOW_LOCAL_MODELS", raising=False)
    if name.strip() != name and HUB_ID_PATTERN.match(name.strip()):
        assert engine.check_model_name(name) == name.strip()
        return
    with pytest.raises(SCLoRAError):
        engine.check_model_name(name)


def test_app_local_folders_need_the_operator_flag_and_never_on_spaces(monkeypatch, tmp_path):
    from explorer import engine

    folder = str(tmp_path)
    monkeypatch.delenv("SCLORA_ALLOW_LOCAL_MODELS", raising=False)
    monkeypatch.delenv("SPACE_ID", raising=False)
    with pytest.raises(SCLoRAError, match="SCLORA_ALLOW_LOCAL_MODELS=1"):
        engine.check_model_name(folder)
    monkeypatch.setenv("SCLORA_ALLOW_LOCAL_MODELS", "1")
    assert engine.check_model_name(folder) == folder
    monkeypatch.setenv("SPACE_ID", "someone/sclora")
    with pytest.raises(SCLoRAError, match="SCLORA_ALLOW_LOCAL_MODELS=1"):
        engine.check_model_name(folder)


def test_zip_holds_only_the_folders_own_files(tmp_path):
    """No symlinked secrets, no subfolders, no directory parts in member names."""
    from sclora.export import zip_folder

    secret = tmp_path / "secret.txt"
    secret.write_text("api key")
    run = tmp_path / "run"
    (run / "nested").mkdir(parents=True)
    (run / "nested" / "other.json").write_text("{}")
    (run / "metrics.json").write_text("{}")
    (run / "loss.csv").write_text("step,loss,lr\n")
    os.symlink(secret, run / "link.txt")
    os.symlink(tmp_path, run / "up")
    target = zip_folder(run, tmp_path / "run.zip")
    with zipfile.ZipFile(target) as zf:
        assert sorted(zf.namelist()) == ["loss.csv", "metrics.json"]
        assert all(b"api key" not in zf.read(n) for n in zf.namelist())
