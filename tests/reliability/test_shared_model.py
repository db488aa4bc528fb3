"""The app shares one base model between sessions: one session's statistics must not see another's forwards."""

from __future__ import annotations

import threading

import torch


def test_statistics_ignore_forwards_of_other_threads(tiny):
    """While statistics are collected, another thread runs the same model (as the app's 'Ask' tab
    or another session may): the statistics equal those collected alone, and the other thread's
    forwards work (the hooks neither fail them nor count them)."""
    from sclora.statistics import collect_statistics

    model, _ = tiny
    ft = [[5 + (i * j) % 200 for j in range(12)] for i in range(8)]
    pr = [[7 + (i + 3 * j) % 200 for j in range(10)] for i in range(8)]
    alone = collect_statistics(model, ft, pr, batch_size=2)
    errors, logits = [], []

    def other_session() -> None:
        try:
            with torch.no_grad():
                for ids in ([[5]], [[5, 6, 7]]):  # a decode step and a prompt, as generation does
                    logits.append(model(input_ids=torch.tensor(ids)).logits)
        except Exception as exc:  # noqa: BLE001 - recorded and asserted below
            errors.append(exc)

    def progress(done, total, desc):  # runs between batches, while the hooks are registered
        thread = threading.Thread(target=other_session)
        thread.start()
        thread.join()

    busy = collect_statistics(model, ft, pr, batch_size=2, progress=progress)
    assert errors == []
    assert len(logits) == 2 * 8  # 8 batches in all, two forwards each
    assert [g.members for g in busy.groups] == [g.members for g in alone.groups]
    for side in alone.matrices:
        for name, matrix in alone.matrices[side].items():
            assert torch.equal(busy.matrices[side][name], matrix), (side, name)
