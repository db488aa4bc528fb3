"""Hypothesis profiles for the loader fuzz tests.

``make test`` runs the default profile: a few hundred generated files, derandomized (a fixed seed, the
same files every run). ``make fuzz`` sets ``SCLORA_FUZZ_PROFILE=fuzz``: at least 10,000 files, a new
random seed each run (Hypothesis prints the seed and the shrunk file of any failure). The number of
files each test generated is printed at the end of the run.
"""

from __future__ import annotations

import os
from collections import Counter

PROFILE = os.environ.get("SCLORA_FUZZ_PROFILE", "default")
if PROFILE not in ("default", "fuzz"):
    raise RuntimeError(f"SCLORA_FUZZ_PROFILE must be 'default' or 'fuzz', got {PROFILE!r}")

FILES: Counter = Counter()  # test name -> generated files checked


def pytest_terminal_summary(terminalreporter):
    if FILES:
        total = sum(FILES.values())
        terminalreporter.write_line(f"fuzz ({PROFILE} profile): {total} generated files checked "
                                    f"({', '.join(f'{k} {v}' for k, v in sorted(FILES.items()))})")
