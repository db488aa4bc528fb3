"""Bad inputs give a clear message, never a traceback or a silent result.

Library: :class:`sclora.errors.SCLoRAError` naming what was wrong and where. CLI: exit code 2
and one ``error: ...`` line on stderr (a data file lists each of its problems on the lines
after). Each case is one test id: data files, parameters, models, numerics.
"""

from __future__ import annotations

import copy
import json
import math
import os
import subprocess
import sys

import pytest
import torch

from sclora.errors import SCLoRAError

from ._util import BAD, GOOD, assert_data_error, assert_one_line_error


# --------------------------------------------------------------------------- data files (CLI validate)

BAD_FILES = sorted(p.name for p in BAD.iterdir() if p.name != "oversize.jsonl")  # oversize: see below


@pytest.mark.parametrize("name", BAD_FILES)
def test_cli_validate_rejects_bad_file(cli, name):
    """`validate BAD_FILE`: exit 2, an 'error: <file>: N problems' head, then only problem bullets."""
    assert_data_error(cli("validate", BAD / name), name)


def test_cli_validate_rejects_file_over_the_size_limit(cli, tmp_path):
    big = tmp_path / "big.jsonl"
    with open(big, "wb") as f:  # sparse: the size check reads st_size before any byte
        f.truncate(21 * 2**20)
    assert_data_error(cli("validate", big), "big.jsonl", "over the limit of 20.0 MiB")


def test_cli_validate_rejects_missing_file(cli, tmp_path):
    assert_data_error(cli("validate", tmp_path / "nope.jsonl"), "nope.jsonl", "does not exist")


def test_cli_validate_rejects_a_folder(cli, tmp_path):
    folder = tmp_path / "folder.jsonl"
    folder.mkdir()
    assert_data_error(cli("validate", folder), "folder.jsonl", "not a file")


def test_record_cap_truncates_with_a_warning(tmp_path):
    """The record cap is the one thing that truncates, and it says so."""
    from sclora.data import load_examples

    path = tmp_path / "many.jsonl"
    path.write_text("".join(json.dumps({"text": f"sample {i}"}) + "\n" for i in range(30)))
    ex = load_examples(path, max_records=10)
    assert len(ex) == 10 and any("only the first 10" in w for w in ex.warnings)


# --------------------------------------------------------------------------- parameters (CLI)

TRAIN = ["--model", "tiny-llama", "--finetune", "{ft}", "--preserve", "{pr}", "--out", "{tmp}/run"]
CLI_PARAMS = {
    # id: (argv, fragments of the one error line)
    "subspace-beta-above-1": (["subspace", "--covariances", "{cov}", "--beta", "1.5", "--rank", "2", "--out", "{tmp}/s.safetensors"], ["beta must be in [0, 1]", "1.5"]),
    "subspace-beta-negative": (["subspace", "--covariances", "{cov}", "--beta", "-0.1", "--rank", "2", "--out", "{tmp}/s.safetensors"], ["beta must be in [0, 1]"]),
    "subspace-beta-nan": (["subspace", "--covariances", "{cov}", "--beta", "nan", "--rank", "2", "--out", "{tmp}/s.safetensors"], ["beta must be a number", "nan"]),
    "subspace-beta-inf": (["subspace", "--covariances", "{cov}", "--beta", "inf", "--rank", "2", "--out", "{tmp}/s.safetensors"], ["beta must be a number"]),
    "subspace-beta-not-a-number": (["subspace", "--covariances", "{cov}", "--beta", "high", "--rank", "2", "--out", "{tmp}/s.safetensors"], ["--beta", "invalid float value"]),
    "subspace-rank-0": (["subspace", "--covariances", "{cov}", "--beta", "0.5", "--rank", "0", "--out", "{tmp}/s.safetensors"], ["rank must be an integer >= 1", "0"]),
    "subspace-rank-above-d_out": (["subspace", "--covariances", "{cov}", "--beta", "0.5", "--rank", "100000", "--out", "{tmp}/s.safetensors"], ["rank 100000 is larger than the layer's output size"]),
    "subspace-missing-covariances": (["subspace", "--covariances", "{tmp}/none.safetensors", "--beta", "0.5", "--rank", "2", "--out", "{tmp}/s.safetensors"], ["none.safetensors", "does not exist"]),
    "subspace-garbage-covariances": (["subspace", "--covariances", "{garbage}", "--beta", "0.5", "--rank", "2", "--out", "{tmp}/s.safetensors"], ["garbage.safetensors", "is not a covariance file"]),
    "subspace-foreign-safetensors": (["subspace", "--covariances", "{foreign}", "--beta", "0.5", "--rank", "2", "--out", "{tmp}/s.safetensors"], ["foreign.safetensors", "is not a covariance file"]),
    "tradeoff-betas-not-numbers": (["tradeoff", "--covariances", "{cov}", "--rank", "2", "--betas", "0.5,abc", "--out", "{tmp}/t.csv"], ["--betas", "'abc' is not a number"]),
    "tradeoff-beta-above-1": (["tradeoff", "--covariances", "{cov}", "--rank", "2", "--betas", "0.5,2", "--out", "{tmp}/t.csv"], ["beta must be in [0, 1]", "2.0"]),
    "tradeoff-rank-negative": (["tradeoff", "--covariances", "{cov}", "--rank", "-3", "--out", "{tmp}/t.csv"], ["rank must be an integer >= 1"]),
    "finetune-steps-negative": (["finetune", *TRAIN, "--steps", "-1"], ["--steps must be >= 0", "-1"]),
    "finetune-lr-zero": (["finetune", *TRAIN, "--lr", "0"], ["--lr/--lrs must be finite and > 0"]),
    "finetune-lr-negative": (["finetune", *TRAIN, "--lr=-1e-3"], ["--lr/--lrs must be finite and > 0"]),
    "finetune-lr-nan": (["finetune", *TRAIN, "--lr", "nan"], ["--lr/--lrs must be finite and > 0", "nan"]),
    "finetune-lr-inf": (["finetune", *TRAIN, "--lr", "inf"], ["--lr/--lrs must be finite and > 0", "inf"]),
    "finetune-batch-size-0": (["finetune", *TRAIN, "--batch-size", "0"], ["--batch-size must be >= 1"]),
    "finetune-rank-0": (["finetune", *TRAIN, "--rank", "0"], ["--rank must be >= 1"]),
    "finetune-beta-above-1": (["finetune", *TRAIN, "--beta", "1.01"], ["--beta/--betas must be between 0 and 1"]),
    "finetune-beta-nan": (["finetune", *TRAIN, "--beta", "nan"], ["--beta/--betas must be between 0 and 1"]),
    "finetune-max-length-too-small": (["finetune", *TRAIN, "--max-length", "4"], ["--max-length must be >= 8"]),
    "finetune-max-samples-0": (["finetune", *TRAIN, "--max-samples", "0"], ["--max-samples must be >= 1"]),
    "finetune-alpha-0": (["finetune", *TRAIN, "--alpha", "0"], ["--alpha must be > 0"]),
    "finetune-unknown-method": (["finetune", *TRAIN, "--method", "dora"], ["Unknown method 'dora'"]),
    "finetune-steps-not-integer": (["finetune", *TRAIN, "--steps", "2.5"], ["--steps", "invalid int value"]),
    "compare-empty-methods": (["compare", *TRAIN, "--methods", " , "], ["'methods' is empty"]),
    "compare-duplicate-method": (["compare", *TRAIN, "--methods", "lora,lora"], ["lists a method twice"]),
    "compare-duplicate-lrs": (["compare", *TRAIN, "--lrs", "1e-4,1e-4"], ["list a value twice"]),
    "compare-duplicate-betas": (["compare", *TRAIN, "--betas", "0.5,0.5"], ["list a value twice"]),
    "compare-lr-and-lrs": (["compare", *TRAIN, "--lr", "1e-4", "--lrs", "1e-4,1e-3"], ["not allowed with argument"]),
    "covariances-max-samples-0": (["covariances", "--model", "tiny-llama", "--finetune", "{ft}", "--preserve", "{pr}", "--max-samples", "0", "--out", "{tmp}/c.safetensors"], ["--max-samples must be >= 1"]),
    "covariances-batch-size-0": (["covariances", "--model", "tiny-llama", "--finetune", "{ft}", "--preserve", "{pr}", "--batch-size", "0", "--out", "{tmp}/c.safetensors"], ["--batch-size must be >= 1"]),
    "covariances-out-not-safetensors": (["covariances", "--model", "tiny-llama", "--finetune", "{ft}", "--preserve", "{pr}", "--out", "{tmp}/c.pt"], ["--out must end in .safetensors"]),
    "covariances-unknown-aggregate": (["covariances", "--finetune", "{ft}", "--preserve", "{pr}", "--aggregate", "mean", "--out", "{tmp}/c.safetensors"], ["--aggregate", "invalid choice"]),
    "covariances-unknown-dataset": (["covariances", "--model", "tiny-llama", "--finetune", "mathz", "--preserve", "{pr}", "--out", "{tmp}/c.safetensors"], ["'mathz' is neither a file nor a bundled dataset"]),
    "generate-max-new-tokens-0": (["generate", "--model", "tiny-llama", "--prompts", "{prompts}", "--max-new-tokens", "0", "--out", "{tmp}/g.jsonl"], ["--max-new-tokens must be between 1 and 1024"]),
    "generate-empty-prompt-list": (["generate", "--model", "tiny-llama", "--prompts", "{empty_prompts}", "--out", "{tmp}/g.jsonl"], ["has no prompts"]),
    "generate-missing-prompts": (["generate", "--model", "tiny-llama", "--prompts", "{tmp}/none.txt", "--out", "{tmp}/g.jsonl"], ["none.txt", "does not exist"]),
    "generate-prompts-not-utf8": (["generate", "--model", "tiny-llama", "--prompts", "{latin1_prompts}", "--out", "{tmp}/g.jsonl"], ["is not UTF-8 text"]),
    "generate-same-adapter-twice": (["generate", "--model", "tiny-llama", "--prompts", "{prompts}", "--adapter", "{tmp}/a/run", "--adapter", "{tmp}/b/run", "--out", "{tmp}/g.jsonl"], ["two adapters are both named 'run'"]),
    "generate-adapter-not-a-folder": (["generate", "--model", "tiny-llama", "--prompts", "{prompts}", "--adapter", "{tmp}", "--out", "{tmp}/g.jsonl"], ["is not an adapter folder"]),
    "missing-required-flag": (["subspace", "--beta", "0.5", "--rank", "2", "--out", "x.safetensors"], ["the following arguments are required: --covariances"]),
    "unknown-command": (["train"], ["invalid choice: 'train'"]),
}


@pytest.fixture
def cli_paths(tmp_path, cov_file, data_files):
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00\x01not a safetensors file" * 10)
    from safetensors.torch import save_file

    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2, 2)}, str(foreign))
    prompts, empty, latin1 = tmp_path / "p.txt", tmp_path / "empty.txt", tmp_path / "latin1.txt"
    prompts.write_text("What is 2 plus 2?\n")
    empty.write_text("\n   \n\n")
    latin1.write_bytes("caf\xe9 au lait?\n".encode("latin-1"))
    return dict(cov=cov_file, ft=data_files[0], pr=data_files[1], tmp=tmp_path, garbage=garbage, foreign=foreign,
                prompts=prompts, empty_prompts=empty, latin1_prompts=latin1)


@pytest.mark.parametrize("case", sorted(CLI_PARAMS))
def test_cli_rejects_bad_parameter(cli, cli_paths, case):
    argv, fragments = CLI_PARAMS[case]
    result = cli(*(a.format(**cli_paths) for a in argv))
    assert_one_line_error(result, *fragments)


# --------------------------------------------------------------------------- parameters (library)


def _tokenized(tiny, n=6):
    from sclora.data import TokenizedExamples

    ids = [[5, 6, 7, 8, 9, 10, 11, 12] for _ in range(n)]
    return TokenizedExamples(input_ids=ids, labels=[[-100] * 4 + r[4:] for r in ids], n_truncated=0)


def _lora(tiny, rank=2):
    from sclora.inits import init_adapters

    return init_adapters(tiny[0], "lora", rank=rank)


LIBRARY_PARAMS = {
    # id: (call(tiny), fragment of the message)
    "validate_beta-above-1": (lambda t: __import__("sclora.train").train.validate_beta(1.2), "'beta' must be a number between 0 and 1"),
    "validate_beta-nan": (lambda t: __import__("sclora.train").train.validate_beta(float("nan")), "got nan"),
    "validate_beta-string": (lambda t: __import__("sclora.train").train.validate_beta("0.5"), "got '0.5'"),
    "check_beta_rank-rank-bool": (lambda t: __import__("sclora.subspace").subspace.check_beta_rank(0.5, True), "rank must be an integer"),
    "init-rank-above-d_out": (lambda t: __import__("sclora.inits").inits.init_adapters(t[0], "pissa", rank=1000), "the largest possible rank is"),
    "init-rank-0": (lambda t: __import__("sclora.inits").inits.init_adapters(t[0], "lora", rank=0), "rank must be a positive integer"),
    "init-unknown-module": (lambda t: __import__("sclora.inits").inits.init_adapters(t[0], "lora", rank=2, target_modules=["model.layers.9.q_proj"]), "no module named"),
    "sclora-without-data": (lambda t: __import__("sclora.train").train.build_adapter(t[0], "sclora", rank=2, beta=0.5), "needs fine-tune and preserve data"),
    "finetune-steps-negative": (lambda t: __import__("sclora.train").train.finetune(_lora(t), _tokenized(t), steps=-1), "'steps' must be an integer >= 0"),
    "finetune-lr-nan": (lambda t: __import__("sclora.train").train.finetune(_lora(t), _tokenized(t), steps=1, lr=float("nan")), "'lr' (learning rate)"),
    "finetune-batch-size-0": (lambda t: __import__("sclora.train").train.finetune(_lora(t), _tokenized(t), steps=1, batch_size=0), "'batch_size' must be an integer >= 1"),
    "finetune-warmup-1": (lambda t: __import__("sclora.train").train.finetune(_lora(t), _tokenized(t), steps=1, warmup_ratio=1.0), "'warmup_ratio' must be in [0, 1)"),
    "finetune-no-response-tokens": (lambda t: __import__("sclora.train").train.finetune(
        _lora(t), __import__("sclora.data").data.TokenizedExamples([[5, 6, 7]], [[-100, -100, -100]], 1), steps=1),
        "No training example has a response token"),
    "generate-empty-prompt-list": (lambda t: __import__("sclora.generation").generation.generate(t[0], t[1], []), "There are no prompts"),
    "generate-blank-prompt": (lambda t: __import__("sclora.generation").generation.generate(t[0], t[1], ["  "]), "non-empty strings"),
    "side_by_side-empty-prompts": (lambda t: __import__("sclora.compare").compare.side_by_side(t[0], t[1], {}, []), "at least one prompt"),
    "statistics-empty-samples": (lambda t: __import__("sclora.statistics").statistics.collect_statistics(t[0], [], [[5, 6]]), "The finetune data has no samples"),
    "statistics-empty-sample": (lambda t: __import__("sclora.statistics").statistics.collect_statistics(t[0], [[5, 6]], [[]]), "empty sample (sample 0)"),
    "statistics-token-outside-vocab": (lambda t: __import__("sclora.statistics").statistics.collect_statistics(t[0], [[5, 10**6]], [[5]]), "outside the vocabulary"),
    "statistics-batch-size-0": (lambda t: __import__("sclora.statistics").statistics.collect_statistics(t[0], [[5]], [[5]], batch_size=0), "batch_size must be an integer >= 1"),
    "tokenize-max-length-0": (lambda t: __import__("sclora.tokens").tokens.tokenize_examples(
        __import__("sclora.data").data.load_examples(GOOD / "chat.jsonl"), t[1], max_length=0), "max_length must be a whole number >= 1"),
    "load_examples-max-records-0": (lambda t: __import__("sclora.data").data.load_examples(GOOD / "chat.jsonl", max_records=0), "max_records must be a whole number >= 1"),
    "plan_runs-empty-methods": (lambda t: __import__("sclora.compare").compare.plan_runs([], [0.5], [1e-4]), "'methods' is empty"),
    "export-not-a-peft-model": (lambda t: __import__("sclora.export").export.export_adapter(t[0], "never-written"), "needs a PEFT model"),
    "bundled-dataset-unknown": (lambda t: __import__("sclora.data").data.bundled_dataset("maths"), "Unknown bundled dataset 'maths'"),
    "metric-unknown": (lambda t: __import__("sclora.answers").answers.score_answer("bleu", "a", "b"), "Unknown metric 'bleu'"),
}


@pytest.mark.parametrize("case", sorted(LIBRARY_PARAMS))
def test_library_rejects_bad_parameter(tiny, case):
    call, fragment = LIBRARY_PARAMS[case]
    with pytest.raises(SCLoRAError) as info:
        call(tiny)
    assert fragment in str(info.value)


def test_run_folder_is_not_written_for_a_file_path(tiny, tmp_path):
    from sclora.runs import RunRecord, write_run

    target = tmp_path / "run"
    target.write_text("not a folder")
    with pytest.raises(SCLoRAError, match="is an existing file"):
        write_run(RunRecord(config={}, metrics={k: 0 for k in __import__("sclora.runs").runs.METRIC_KEYS}), target)
    assert target.read_text() == "not a folder"


# --------------------------------------------------------------------------- models


def _broken_folders(root, tiny):
    """Folders that are not usable models, by case id."""
    from safetensors.torch import save_file

    folders = {}
    empty = root / "not-a-model"
    empty.mkdir()
    (empty / "README.md").write_text("hello")
    folders["folder-without-config"] = (empty, "has no config.json")
    pickled = root / "pickled"
    pickled.mkdir()
    tiny[0].config.to_json_file(pickled / "config.json")
    (pickled / "pytorch_model.bin").write_bytes(b"pickle")
    folders["folder-with-only-pytorch_model.bin"] = (pickled, "no .safetensors weights")
    garbage = root / "garbage-weights"
    garbage.mkdir()
    tiny[0].config.to_json_file(garbage / "config.json")
    (garbage / "model.safetensors").write_bytes(b"\x00" * 64)
    folders["folder-with-corrupt-safetensors"] = (garbage, "Could not load the model in folder")
    wrong = root / "wrong-tensors"
    wrong.mkdir()
    tiny[0].config.to_json_file(wrong / "config.json")
    tiny[1].save_pretrained(wrong)
    save_file({"unrelated": torch.zeros(3)}, str(wrong / "model.safetensors"))
    folders["folder-with-unrelated-tensors"] = (wrong, "lack 21 tensors the architecture needs")
    return folders


MODEL_NAMES = {
    # id: (name, fragment) — each refused before anything is downloaded or read
    "unknown-hub-id-offline": ("nobody-xyz/no-such-model-123", "cannot be reached"),
    "path-traversal": ("../../../../etc/passwd", "does not exist"),
    "url": ("https://example.com/owner/model", "URLs are not accepted"),
    "shell-metacharacters": ("owner/name;rm -rf ~", "not a hub id"),
    "command-substitution": ("$(reboot)", "neither"),
    "hub-id-with-newline": ("owner/name\nrm", "not a hub id"),
    "hub-id-three-parts": ("owner/name/extra", "not a hub id"),
    "hub-id-dot-dot": ("owner/..", "does not exist"),
    "unknown-tiny": ("tiny-mistral", "neither"),
}


@pytest.mark.parametrize("case", sorted(MODEL_NAMES))
def test_load_model_refuses_bad_name(case):
    from sclora.models import load_model

    name, fragment = MODEL_NAMES[case]
    with pytest.raises(SCLoRAError) as info:
        load_model(name, device="cpu")
    assert fragment in str(info.value), str(info.value)


@pytest.mark.parametrize("case", ["folder-without-config", "folder-with-only-pytorch_model.bin",
                                  "folder-with-corrupt-safetensors", "folder-with-unrelated-tensors"])
def test_cli_refuses_broken_model_folder(cli, cli_paths, tiny, tmp_path, case):
    folder, fragment = _broken_folders(tmp_path, tiny)[case]
    result = cli("generate", "--model", folder, "--prompts", cli_paths["prompts"], "--out", tmp_path / "g.jsonl")
    assert_one_line_error(result, str(folder), fragment)
    assert not (tmp_path / "g.jsonl").exists()


def test_model_without_matching_linear_layers(tiny):
    from sclora.modules import find_target_modules

    with pytest.raises(SCLoRAError, match="No linear layer matches the module patterns") as info:
        find_target_modules(tiny[0], "query,value")
    assert "q_proj" in str(info.value)  # names what the model does have


def test_model_without_any_linear_layer():
    from sclora.modules import find_target_modules

    with pytest.raises(SCLoRAError, match="Linear layers in this model: none"):
        find_target_modules(torch.nn.Sequential(torch.nn.Embedding(10, 4)))


def test_module_pattern_that_is_not_a_regex(tiny):
    from sclora.modules import find_target_modules

    with pytest.raises(SCLoRAError, match="not a valid regular expression"):
        find_target_modules(tiny[0], "q_proj[")


def test_cli_module_pattern_matching_nothing(cli, cli_paths):
    result = cli("covariances", "--model", "tiny-llama", "--finetune", cli_paths["ft"], "--preserve", cli_paths["pr"],
                 "--modules", "attn_qkv", "--max-samples", "2", "--out", cli_paths["tmp"] / "c.safetensors")
    assert_one_line_error(result, "No linear layer matches the module patterns ['attn_qkv']")


def test_tokenizer_without_pad_token_falls_back_to_eos(tiny, tmp_path):
    """load_model gives such a tokenizer its EOS as pad token (padding is always masked)."""
    from sclora.models import load_model, tiny_tokenizer

    folder = tmp_path / "nopad"
    tiny[0].save_pretrained(folder)
    tok = tiny_tokenizer()
    tok.pad_token = None
    tok.save_pretrained(folder)
    _, loaded = load_model(str(folder), device="cpu")
    assert loaded.pad_token == loaded.eos_token == "<|im_end|>"


def test_tokenizer_without_pad_or_eos_token(tiny, tmp_path):
    """With no pad, EOS or UNK token there is nothing safe to pad with: a clear error."""
    from sclora.models import load_model, tiny_tokenizer

    folder = tmp_path / "nopad-noeos"
    tiny[0].save_pretrained(folder)
    tok = tiny_tokenizer()
    tok.pad_token = None
    tok.eos_token = None
    tok.save_pretrained(folder)
    with pytest.raises(SCLoRAError, match="no pad token"):
        load_model(str(folder), device="cpu")


def test_generate_with_a_tokenizer_without_pad_token(tiny):
    from sclora.generation import generate

    tok = copy.deepcopy(tiny[1])
    tok.pad_token = None
    with pytest.raises(SCLoRAError, match="no pad token"):
        generate(tiny[0], tok, ["hi", "hello there"], max_new_tokens=2)


# --------------------------------------------------------------------------- numerics


def _overflowing_fp16(tiny):
    """tiny-llama in float16 with MLP weights scaled so that activations overflow to Inf."""
    model = copy.deepcopy(tiny[0]).half()
    with torch.no_grad():
        for layer in model.model.layers:
            layer.mlp.up_proj.weight.mul_(3e4)
            layer.mlp.gate_proj.weight.mul_(3e4)
    return model


def test_nan_inf_activations_fp16_statistics(tiny):
    from sclora.statistics import collect_statistics

    ids = [[5, 6, 7, 8, 9, 10] * 4] * 3
    with pytest.raises(SCLoRAError, match="contain NaN or Inf.*float16"):
        collect_statistics(_overflowing_fp16(tiny), ids, ids)


def test_nan_weights_training_diverges_with_a_message(tiny):
    from sclora.inits import init_adapters
    from sclora.train import finetune

    model = copy.deepcopy(tiny[0])
    with torch.no_grad():
        model.model.layers[0].mlp.down_proj.weight[0, 0] = float("nan")
    peft = init_adapters(model, "lora", rank=2)
    with pytest.raises(SCLoRAError, match="Training diverged at step 1"):
        finetune(peft, _tokenized(tiny), steps=2, batch_size=2)


def test_statistics_file_with_nan_is_refused(tiny, cov_file, tmp_path):
    """A file with NaN (damaged, or written by other code) must not give NaN subspaces silently."""
    from sclora.statistics import load_statistics, save_statistics

    stats = load_statistics(cov_file, model=tiny[0])
    first = next(iter(stats.matrices["preserve"]))
    stats.matrices["preserve"][first] = stats.matrices["preserve"][first].clone()
    stats.matrices["preserve"][first][0, 0] = float("inf")
    path = save_statistics(stats, tmp_path / "inf.safetensors")
    with pytest.raises(SCLoRAError, match="NaN or Inf"):
        load_statistics(path, model=tiny[0])


def test_statistics_file_with_incomplete_metadata_is_refused(cov_file, tmp_path):
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    from sclora.statistics import load_statistics

    with safe_open(str(cov_file), framework="pt") as fh:
        meta = json.loads(fh.metadata()["sclora"])
    del meta["groups"]
    path = tmp_path / "partial.safetensors"
    save_file(load_file(str(cov_file)), str(path), metadata={"sclora": json.dumps(meta)})
    with pytest.raises(SCLoRAError, match="partial.safetensors"):
        load_statistics(path)


def test_all_identical_samples(tiny, tmp_path):
    """Identical samples: the file warns about duplicates; statistics, subspaces and energies stay finite."""
    from sclora.data import load_examples
    from sclora.statistics import collect_statistics
    from sclora.subspace import sclora_subspace, tradeoff
    from sclora.tokens import tokenize_examples

    path = tmp_path / "same.jsonl"
    path.write_text((json.dumps({"prompt": "Same?", "response": "Same."}) + "\n") * 8)
    ex = load_examples(path)
    assert any("duplicate" in w for w in ex.warnings)
    ids = tokenize_examples(ex, tiny[1], loss_on="all").input_ids
    stats = collect_statistics(tiny[0], ids, ids)
    name = stats.module_names[0]
    assert torch.linalg.matrix_rank(stats.output_covariance(name, "finetune")) == 1
    sub = sclora_subspace(stats, name, 0.5, 4)
    q = sub.basis
    assert torch.isfinite(q).all() and torch.allclose(q.T @ q, torch.eye(4, dtype=q.dtype), atol=1e-8)
    table = tradeoff(stats, 4, [0.0, 0.5, 1.0])
    assert table[["finetune_energy", "preserve_energy", "reward"]].notna().all().all()


def test_fewer_samples_than_rank_warns(cli, cov_file, tmp_path):
    """24 samples in all, rank 32: a warning line, a valid subspace file, exit 0."""
    from safetensors.torch import load_file

    out = tmp_path / "s.safetensors"
    result = cli("subspace", "--covariances", cov_file, "--beta", "0.5", "--rank", "32", "--out", out)
    assert result.code == 0, result.err
    assert "rank 32 exceeds the 24 samples" in result.err and "Traceback" not in result.err
    q = load_file(str(out))["model.layers.0.self_attn.k_proj"].double()
    assert torch.allclose(q.T @ q, torch.eye(32, dtype=q.dtype), atol=1e-5)


def test_fewer_preserve_samples_than_d_out_warns_about_uniqueness(cov_file):
    from sclora.statistics import load_statistics
    from sclora.subspace import sclora_subspaces

    stats = load_statistics(cov_file)
    with pytest.warns(UserWarning, match="Appendix B"):
        sclora_subspaces(stats, 1.0, 2)


# --------------------------------------------------------------------------- no traceback, real process


@pytest.mark.parametrize("argv", [
    ["validate", str(BAD / "chat_unknown_role.jsonl")],
    ["subspace", "--covariances", "missing.safetensors", "--beta", "2", "--rank", "2", "--out", "x.safetensors"],
    ["generate", "--model", "https://example.com/x", "--prompts", "p.txt", "--out", "x.jsonl"],
], ids=["bad-data-file", "bad-beta", "url-as-model"])
def test_cli_process_exits_2_without_traceback(argv, tmp_path):
    (tmp_path / "p.txt").write_text("Hello?\n")
    proc = subprocess.run([sys.executable, "-m", "sclora", *argv], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: ")


# --------------------------------------------------------------------------- out of memory (simulated)


def _oom_above(model, max_batch: int):
    """Make the first MLP raise CUDA's out-of-memory error for batches larger than ``max_batch``."""
    mlp = model.model.layers[0].mlp
    real = mlp.forward

    def forward(x, *args, **kwargs):
        if x.shape[0] > max_batch:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return real(x, *args, **kwargs)

    mlp.forward = forward
    return model


def test_out_of_memory_in_statistics_is_reported_and_not_fatal(tiny):
    from sclora.statistics import collect_statistics

    model = _oom_above(copy.deepcopy(tiny[0]), 2)
    ids = [[5, 6, 7, 8] * 3] * 6
    with pytest.raises(SCLoRAError, match="Out of memory on cpu while collecting the finetune statistics with "
                                          "batch_size=4.*lower the batch size"):
        collect_statistics(model, ids, ids, batch_size=4)
    assert not model.model.layers[0].mlp.down_proj._forward_hooks  # hooks removed: the model is clean
    stats = collect_statistics(model, ids, ids, batch_size=2)  # a smaller batch then works
    assert stats.counts["finetune"]["samples"] == 6


def test_out_of_memory_in_training_is_reported_and_keeps_the_adapter(tiny):
    from sclora.inits import init_adapters
    from sclora.train import finetune

    model = _oom_above(copy.deepcopy(tiny[0]), 2)
    peft = init_adapters(model, "lora", rank=2)
    with pytest.raises(SCLoRAError, match="Out of memory on cpu at step 1 with batch_size=4"):
        finetune(peft, _tokenized(tiny), steps=2, batch_size=4)
    assert all(p.grad is None for p in peft.parameters() if p.requires_grad)
    result = finetune(peft, _tokenized(tiny), steps=2, batch_size=2)
    assert result.steps_done == 2 and all(math.isfinite(x) for x in result.losses)


def test_cli_out_of_memory_is_one_line(cli, cli_paths, monkeypatch):
    """`covariances` with a batch too large for the device: exit 2, one line, nothing written."""
    import sclora.models

    real = sclora.models.load_model
    monkeypatch.setattr(sclora.models, "load_model", lambda *a, **k: (lambda m, t: (_oom_above(m, 1), t))(*real(*a, **k)))
    out = cli_paths["tmp"] / "c.safetensors"
    result = cli("covariances", "--model", "tiny-llama", "--finetune", cli_paths["ft"], "--preserve", cli_paths["pr"],
                 "--max-samples", "4", "--max-length", "256", "--batch-size", "4", "--out", out)
    assert_one_line_error(result, "Out of memory", "batch_size=4")
    assert not out.exists()
