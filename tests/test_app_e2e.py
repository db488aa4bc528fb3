"""End to end: launch the app (tiny-llama) on a free port and drive it with gradio_client:
data -> covariances -> trade-off -> a 2-step fine-tune -> generation -> export."""

from __future__ import annotations

import socket
import warnings
import zipfile

import pytest

from explorer.app import build_app

METRIC = "e− (share of C− energy touched)"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def client():
    from gradio_client import Client

    warnings.filterwarnings("ignore", category=UserWarning)
    demo = build_app("tiny-llama")
    demo.queue(max_size=8)
    port = _free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                max_file_size="20mb")
    try:
        yield Client(f"http://127.0.0.1:{port}/", verbose=False)
    finally:
        demo.close()


def test_named_endpoints_exist(client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/load_data", "/covariances", "/heatmap", "/tradeoff", "/finetune", "/generate", "/export"} <= set(endpoints)


def test_walkthrough(client):
    summary = client.predict("tiny-llama", "math", None, "knowledge", None, 8, 256, 20, api_name="/load_data")[0]
    assert "20 records → 16 train / 4 held-out" in summary

    status, layer, kind, spectra, heatmap = client.predict(None, None, 0.9, 4, METRIC, api_name="/covariances")
    assert "14 modules, 8 + 8 samples" in status
    assert spectra is not None and heatmap is not None
    heatmap = client.predict(0.9, 4, METRIC, api_name="/heatmap")
    assert heatmap is not None and "rank 4" in str(heatmap)

    summary, totals, per_layer, angles = client.predict(0.7, 4, 1, "q_proj", api_name="/tradeoff")
    assert "At β = 0.7, rank 4" in summary and "not unique" in summary

    status, loss, table, scatter, changes = client.predict(["lora", "sclora"], "0.5", "1e-3", 2, 4, 4, 1,
                                                           api_name="/finetune")
    assert status.startswith("Done: 2 run(s)")
    labels = [row[0] for row in table["data"]]
    assert labels == ["lora lr=1e-02", "sclora β=0.5 lr=1e-03"]  # LoRA at the default LoRA factor, 10x
    assert changes["headers"] == ["Run", "Change", "Prompt", "Reference", "Base model answered", "This run answers"]
    table, scatter, changes = client.predict(api_name="/results")
    assert [row[0] for row in table["data"]] == labels

    cards, gens = client.predict("What is 2 + 2?", labels, 4, api_name="/generate")
    assert gens["headers"] == ["prompt", "base", *labels] and len(gens["data"]) == 1
    assert cards.count('class="card"') == 1 and all(label in cards for label in labels)

    adapter, record, plots, snippet = client.predict(labels[1], api_name="/export")
    with zipfile.ZipFile(adapter) as z:
        assert "adapter_model.safetensors" in z.namelist()
    assert "PeftModel.from_pretrained" in snippet


def test_errors_reach_only_the_caller(client):
    from gradio_client import Client

    other = Client(client.src, verbose=False)  # a fresh session: no data loaded
    with pytest.raises(Exception, match="Load the data first"):
        other.predict(None, None, 0.9, 4, METRIC, api_name="/covariances")
