"""A crash in the middle of a write leaves no corrupt file: the target is absent or intact, no temp files.

Each writer is made to fail after it has written part of its output (the real writer runs, then
raises), for statistics saves, the model cache folder, adapter exports, zips, run folders and
the CLI's output files.
"""

from __future__ import annotations

import json
import zipfile

import pandas as pd
import pytest
import torch

from sclora.errors import SCLoRAError


class Crash(RuntimeError):
    """The simulated fault (disk full, killed process)."""


def _crash_after(real, keep_partial=True):
    """A writer that does the real work, truncates what it wrote to half, then raises."""

    def writer(*args, **kwargs):
        real(*args, **kwargs)
        if keep_partial:
            path = next(a for a in list(args) + list(kwargs.values()) if isinstance(a, str) and "/" in a)
            with open(path, "r+b") as f:
                size = f.seek(0, 2)
                f.truncate(size // 2)
        raise Crash("disk full")

    return writer


def _leftovers(folder) -> list[str]:
    """Anything but the expected files: temp files and folders left by a writer."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") or "tmp" in p.name)


# --------------------------------------------------------------------------- statistics file


@pytest.mark.parametrize("existing", [False, True], ids=["new-file", "over-an-existing-file"])
def test_statistics_save_crash(tiny, cov_file, tmp_path, monkeypatch, existing):
    import sclora.statistics as st

    stats = st.load_statistics(cov_file, model=tiny[0])
    target = tmp_path / "cov.safetensors"
    if existing:
        st.save_statistics(stats, target)
    before = target.read_bytes() if existing else None
    monkeypatch.setattr(st, "save_file", _crash_after(st.save_file))
    with pytest.raises(Crash):
        st.save_statistics(stats, target)
    assert (target.read_bytes() == before) if existing else not target.exists()
    assert _leftovers(tmp_path) == []
    if existing:  # still a valid statistics file
        assert st.load_statistics(target, model=tiny[0]).module_names == stats.module_names


def test_truncated_statistics_file_is_refused_not_misread(cov_file, tmp_path):
    """If a file is cut short anyway (copied half-way), loading says so."""
    from sclora.statistics import load_statistics

    cut = tmp_path / "cut.safetensors"
    data = cov_file.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(SCLoRAError, match="cut.safetensors.*is not a covariance file"):
        load_statistics(cut)


# --------------------------------------------------------------------------- model cache folder


@pytest.mark.parametrize("existing", [False, True], ids=["new-folder", "over-an-existing-folder"])
def test_cache_folder_write_crash(tmp_path, existing):
    """atomic_directory_write (the bundled model cache, run folders, exports) never exposes half a folder."""
    from sclora.models import atomic_directory_write

    final = tmp_path / "cache" / "model"
    if existing:
        atomic_directory_write(final, lambda tmp: (tmp / "weights.bin").write_bytes(b"old" * 100))

    def write(tmp):
        (tmp / "weights.bin").write_bytes(b"new" * 50)
        raise Crash("killed while writing")

    with pytest.raises(Crash):
        atomic_directory_write(final, write)
    if existing:
        assert (final / "weights.bin").read_bytes() == b"old" * 100
    else:
        assert not final.exists()
    assert _leftovers(final.parent) == []


def test_damaged_cache_is_detected(tmp_path):
    """A cache folder whose files do not match its marker (cut short later) is rebuilt, not used."""
    from sclora.models import _cache_is_complete

    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"x" * 100)
    (folder / "sclora-cache.json").write_text(json.dumps({"files": {"model.safetensors": 100}}))
    assert _cache_is_complete(folder)
    (folder / "model.safetensors").write_bytes(b"x" * 40)
    assert not _cache_is_complete(folder)
    (folder / "sclora-cache.json").write_text("{not json")
    assert not _cache_is_complete(folder)


# --------------------------------------------------------------------------- exports


@pytest.fixture(scope="module")
def trained(tiny):
    """A SC-LoRA-free residual adapter (PiSSA) and a plain LoRA on tiny-llama."""
    from sclora.inits import init_adapters

    return {m: init_adapters(tiny[0], m, rank=2) for m in ("lora", "pissa")}


@pytest.mark.parametrize("method", ["lora", "pissa"])
@pytest.mark.parametrize("existing", [False, True], ids=["new-export", "over-an-earlier-export"])
def test_export_crash(trained, tmp_path, monkeypatch, method, existing):
    import safetensors.torch

    from sclora.export import WEIGHTS_NAME, export_adapter, read_export_metadata

    out = tmp_path / "adapter"
    if existing:
        export_adapter(trained["lora"], out)
    before = {p.name: p.read_bytes() for p in out.iterdir()} if existing else None
    monkeypatch.setattr(safetensors.torch, "save_file", _crash_after(safetensors.torch.save_file))
    with pytest.raises(Crash):
        export_adapter(trained[method], out)
    if existing:
        assert {p.name: p.read_bytes() for p in out.iterdir()} == before
        assert read_export_metadata(out)["sclora_method"] == "lora"
        assert (out / WEIGHTS_NAME).stat().st_size > 0
    else:
        assert not out.exists()
    assert _leftovers(tmp_path) == []


def test_zip_crash(tmp_path, monkeypatch):
    from sclora.export import zip_folder

    folder = tmp_path / "run"
    folder.mkdir()
    for name in ("a.json", "b.csv", "c.safetensors"):
        (folder / name).write_bytes(name.encode() * 1000)
    target = tmp_path / "out" / "run.zip"
    zip_folder(folder, target)
    before = target.read_bytes()
    real = zipfile.ZipFile.write
    calls = []

    def failing_write(self, *args, **kwargs):
        calls.append(args)
        if len(calls) == 2:  # one member is in, the second never completes
            raise Crash("disk full")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "write", failing_write)
    with pytest.raises(Crash):
        zip_folder(folder, target)
    assert target.read_bytes() == before
    with zipfile.ZipFile(target) as zf:
        assert zf.testzip() is None and sorted(zf.namelist()) == ["a.json", "b.csv", "c.safetensors"]
    assert _leftovers(target.parent) == []


def test_run_folder_crash(trained, tmp_path, monkeypatch):
    import sclora.export as export
    from sclora.runs import METRIC_KEYS, RunRecord, write_run

    record = RunRecord(config={"model": "tiny-llama"}, metrics={k: 0.0 for k in METRIC_KEYS},
                       loss_rows=[{"step": 1, "loss": 1.0, "lr": 1e-3}], model=trained["lora"])
    record.metrics["method"] = "lora"
    out = tmp_path / "runs" / "lora-lr1e-03"
    write_run(record, out)
    before = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))

    def crash(*args, **kwargs):
        raise Crash("killed during the adapter export")

    monkeypatch.setattr(export, "export_adapter", crash)
    with pytest.raises(Crash):
        write_run(record, out)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == before
    assert json.loads((out / "metrics.json").read_text())["method"] == "lora"
    assert _leftovers(out.parent) == []


# --------------------------------------------------------------------------- CLI output files


def test_cli_subspace_write_crash(cli, cov_file, tmp_path, monkeypatch):
    import safetensors.torch

    out = tmp_path / "sub.safetensors"
    out.write_bytes(b"previous result")
    monkeypatch.setattr(safetensors.torch, "save_file", _crash_after(safetensors.torch.save_file))
    with pytest.raises(Crash):
        cli("subspace", "--covariances", cov_file, "--beta", "0.5", "--rank", "2", "--out", out)
    assert out.read_bytes() == b"previous result"
    assert _leftovers(tmp_path) == []


def test_cli_tradeoff_write_crash(cli, cov_file, tmp_path, monkeypatch):
    out = tmp_path / "tradeoff.csv"
    real = pd.DataFrame.to_csv

    def crash(self, path, *args, **kwargs):
        real(self.head(3), path, *args, **kwargs)
        raise Crash("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", crash)
    with pytest.raises(Crash):
        cli("tradeoff", "--covariances", cov_file, "--rank", "2", "--betas", "0,0.5", "--out", out)
    assert not out.exists()
    assert _leftovers(tmp_path) == []


def test_cli_generate_write_crash(cli, tmp_path, monkeypatch):
    """The JSONL of generations: a crash after the first row leaves neither the file nor its temp file."""
    import sclora.compare
    import sclora.models

    table = pd.DataFrame({"prompt": ["a?", "b?", "c?"], "base": ["x", "y", "z"]})
    monkeypatch.setattr(sclora.models, "load_model", lambda *a, **k: (None, None))
    monkeypatch.setattr(sclora.compare, "side_by_side", lambda *a, **k: table)
    real = json.dumps
    calls = []

    def dumps(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise Crash("killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(json, "dumps", dumps)
    prompts = tmp_path / "p.txt"
    prompts.write_text("a?\nb?\nc?\n")
    out = tmp_path / "gen.jsonl"
    with pytest.raises(Crash):
        cli("generate", "--model", "tiny-llama", "--prompts", prompts, "--out", out)
    assert not out.exists()
    assert _leftovers(tmp_path) == []


def test_cli_covariances_crash_keeps_earlier_file(cli, data_files, tiny, tmp_path, monkeypatch):
    """`covariances` over an existing file: a crash while saving keeps the earlier file loadable."""
    import sclora.statistics as st

    out = tmp_path / "cov.safetensors"
    args = ["covariances", "--model", "tiny-llama", "--finetune", data_files[0], "--preserve", data_files[1],
            "--max-samples", "4", "--max-length", "32", "--out", out]
    assert cli(*args).code == 0
    before = out.read_bytes()
    monkeypatch.setattr(st, "save_file", _crash_after(st.save_file))
    with pytest.raises(Crash):
        cli(*args)
    assert out.read_bytes() == before
    assert torch.isfinite(next(iter(st.load_statistics(out, model=tiny[0]).matrices["finetune"].values()))).all()
    assert _leftovers(tmp_path) == []
