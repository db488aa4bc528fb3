import torch
import pytest

from sclora import SCLoRAError
from sclora.models import tiny_model
from sclora.modules import find_target_modules
from sclora.statistics import collect_statistics, load_statistics, save_statistics, StoppedError


def _ids(seed, n, lo=3, hi=20, vocab=256):
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(5, vocab, (int(torch.randint(lo, hi, (1,), generator=g)),), generator=g).tolist() for _ in range(n)]


FT, PR = _ids(0, 11), _ids(1, 9)


def direct_output_covariances(model, ids, aggregate="sample"):
    """Reference: hook every target's output, one unpadded sample at a time."""
    targets = find_target_modules(model)
    mods = dict(model.named_modules())
    acc, store = {t.name: 0 for t in targets}, {}
    hooks = [mods[t.name].register_forward_hook(lambda m, a, o, n=t.name: store.__setitem__(n, o[0].double()))
             for t in targets]
    tokens = 0
    with torch.no_grad():
        for row in ids:
            model(input_ids=torch.tensor([row]))
            tokens += len(row)
            for n, out in store.items():
                v = out.sum(0, keepdim=True) if aggregate == "sample" else out
                acc[n] = acc[n] + v.T @ v
    for h in hooks:
        h.remove()
    norm = len(ids) if aggregate == "sample" else tokens
    return {n: a / norm for n, a in acc.items()}


@pytest.mark.parametrize("arch", ["tiny-llama", "tiny-qwen2", "tiny-gpt2"])
@pytest.mark.parametrize("aggregate", ["sample", "token"])
def test_derived_output_statistic_equals_direct_hook(arch, aggregate):
    model, _ = tiny_model(arch)
    model = model.double()  # float64 end to end, so the comparison is exact up to rounding
    stats = collect_statistics(model, FT, PR, batch_size=4, aggregate=aggregate)
    for side, ids in (("finetune", FT), ("preserve", PR)):
        ref = direct_output_covariances(model, ids, aggregate)
        for name, expected in ref.items():
            torch.testing.assert_close(stats.output_covariance(name, side), expected, rtol=1e-9, atol=1e-12)
    assert stats.counts["finetune"]["samples"] == len(FT)
    assert stats.counts["preserve"]["tokens"] == sum(map(len, PR))


def test_shared_inputs_and_cheaper_side_are_used():
    model, _ = tiny_model("tiny-llama")
    stats = collect_statistics(model, FT, PR)
    groups = {tuple(n.rsplit(".", 1)[-1] for n in g.members): g.stored for g in stats.groups if ".0." in g.key}
    assert groups[("q_proj", "k_proj", "v_proj")] == "input"
    assert groups[("gate_proj", "up_proj")] == "input"
    assert groups[("down_proj",)] == "output"  # input 128+1 wide, output 64
    assert stats.nbytes() < stats.output_nbytes()


def test_batch_size_and_padding_side_do_not_matter():
    model, tok = tiny_model("tiny-qwen2")
    model = model.double()  # float32 would differ by matmul rounding between batch shapes
    a = collect_statistics(model, FT, PR, batch_size=1)
    tok.padding_side = "left"
    b = collect_statistics(model, FT, PR, batch_size=5, pad_token_id=tok.pad_token_id)
    for side in ("finetune", "preserve"):
        for k in a.matrices[side]:
            torch.testing.assert_close(a.matrices[side][k], b.matrices[side][k], rtol=1e-9, atol=1e-12)


def test_save_load_round_trip(tmp_path):
    model, _ = tiny_model("tiny-gpt2")
    stats = collect_statistics(model, FT, PR, model_name="tiny-gpt2", fingerprints={"finetune": "f", "preserve": "p"})
    path = save_statistics(stats, tmp_path / "c.safetensors")
    again = load_statistics(path)  # no model given: reloaded by name for derivations
    assert again.fingerprints == {"finetune": "f", "preserve": "p"} and again.counts == stats.counts
    assert [m.name for m in again.modules] == [m.name for m in stats.modules]
    name = stats.modules[0].name
    torch.testing.assert_close(again.output_covariance(name, "preserve"), stats.output_covariance(name, "preserve"))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_load_errors(tmp_path):
    with pytest.raises(SCLoRAError, match="does not exist"):
        load_statistics(tmp_path / "missing.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(SCLoRAError, match="not a covariance file"):
        load_statistics(bad)


def test_input_validation_and_stop():
    model, _ = tiny_model("tiny-llama")
    with pytest.raises(SCLoRAError, match="no samples"):
        collect_statistics(model, [], PR)
    with pytest.raises(SCLoRAError, match="empty sample"):
        collect_statistics(model, FT, [[]])
    with pytest.raises(SCLoRAError, match="outside the vocabulary"):
        collect_statistics(model, FT, [[10**6]])
    with pytest.raises(SCLoRAError, match="aggregate"):
        collect_statistics(model, FT, PR, aggregate="mean")
    with pytest.raises(SCLoRAError, match="No linear layer matches"):
        collect_statistics(model, FT, PR, target_modules="nothing_here")
    calls = []
    with pytest.raises(StoppedError):
        collect_statistics(model, FT, PR, batch_size=2, should_stop=lambda: len(calls) >= 2,
                           progress=lambda d, t, desc: calls.append(d))
    # hooks are removed even after a stop
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_nan_activations_are_reported():
    model, _ = tiny_model("tiny-llama")
    with torch.no_grad():
        model.model.layers[0].self_attn.q_proj.weight[0, 0] = float("nan")
    with pytest.raises(SCLoRAError, match="NaN or Inf"):
        collect_statistics(model, FT, PR)


def test_module_patterns_select_layers():
    model, _ = tiny_model("tiny-llama")
    stats = collect_statistics(model, FT, PR, target_modules="q_proj,v_proj")
    assert {m.kind for m in stats.modules} == {"q_proj", "v_proj"}


def test_few_samples_are_stored_as_factors_and_many_as_covariances():
    model, _ = tiny_model("tiny-llama")  # stored widths 65 (inputs) and 64 (down_proj outputs)
    few = collect_statistics(model, FT, PR)
    assert few.factored["finetune"] and few.nbytes() < collect_statistics(model, _ids(2, 80), _ids(3, 80)).nbytes()
    many = collect_statistics(model, _ids(2, 80), _ids(3, 80))
    assert many.factored == {"finetune": [], "preserve": []}
    key = few.factored["preserve"][0]
    f = few.matrices["preserve"][key]
    assert f.shape[0] == len(PR)  # one row per sample
    torch.testing.assert_close(few.input_covariance(key, "preserve") if few.group_of(key).stored == "input"
                               else few.output_covariance(key, "preserve"), f.T @ f)
