"""Property-based fuzzing of every loader and of ``python -m sclora validate``.

Generated files in every supported format (valid ones, valid ones mutated byte by byte, random bytes,
the encodings a user may save in, deep nesting, sizes at and over the limits) must give either records
that pass the checks below, or :class:`SCLoRAError` whose every problem names the file and a line, record
or row (or is one of the whole-file problems) — never another exception, never a hang (a time cap per
file), never a record that is empty or invisible after normalisation.

The number of generated files depends on the profile (see conftest.py): a few hundred in ``make test``,
at least 10,000 in ``make fuzz``.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from sclora import data, readers
from sclora import text as hygiene
from sclora.data import DataValidationError, load_examples
from sclora.errors import SCLoRAError

from .conftest import FILES, PROFILE

SECONDS_PER_FILE = 10  # a hang fails the test; the slowest generated file takes well under a second
FUZZ = PROFILE == "fuzz"


def fuzz_settings(examples: int, fuzz_examples: int):
    """Default profile: ``examples`` derandomized (fixed) cases; fuzz profile: ``fuzz_examples`` random ones."""
    return settings(
        max_examples=fuzz_examples if FUZZ else examples,
        derandomize=not FUZZ,
        database=None,
        deadline=None,  # the time cap is the alarm below: a loaded 2-core machine makes deadlines flaky
        phases=(Phase.explicit, Phase.generate, Phase.shrink),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
        print_blob=True,
    )


class Hang(AssertionError):
    pass


@contextlib.contextmanager
def time_cap(seconds: float = SECONDS_PER_FILE):
    """Fail (raise :class:`Hang`) when the block runs longer than ``seconds`` of wall time."""
    def expired(signum, frame):
        raise Hang(f"reading one generated file took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# --------------------------------------------------------------------------- invariants

LOCATED = re.compile(r" (?:line|record|row) \d+")
WHOLE_FILE = (  # problems about the file as a whole: no line to name
    "the file is empty", "the file has no records", "the file is UTF-16", "the top level is",
    "the file has a header but no data rows", "not a readable Parquet file", "the Parquet data unpacks to",
    "more lines are not valid UTF-8", "more lines hold control characters", "over the limit of",
)
# The documented meaning of "invisible" (docs/data.md), written out again here rather than imported.
BLANK_CATEGORIES = {"Cc", "Cf", "Cs", "Zs", "Zl", "Zp", "Mn", "Me"}
BLANK_LETTERS = set("\u115f\u1160\u3164\uffa0\u2800\u034f")
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")  # CR included: line ends become \n


def _texts(record: dict) -> list[str]:
    if "messages" in record:
        return [m["content"] for m in record["messages"]]
    return list(record.values())


def check_loaded(examples, max_records: int) -> None:
    """What a loaded file must be: records of one shape, every text value visible, NFC, clean."""
    assert examples.shape in data.SHAPES and examples.format in data.FORMATS
    assert 1 <= len(examples.records) <= max_records
    expected_keys = {"text": {"text"}, "prompt_response": {"prompt", "response"}, "chat": {"messages"}}[examples.shape]
    for record in examples.records:
        assert set(record) == expected_keys, record
        if "messages" in record:
            roles = [m["role"] for m in record["messages"]]
            assert roles[-1] == "assistant" and "user" in roles and "system" not in roles[1:], roles
        for text in _texts(record):
            assert isinstance(text, str) and text, record
            assert not hygiene.is_invisible(text), f"invisible value loaded: {text!r}"
            assert any(not ch.isspace() and unicodedata.category(ch) not in BLANK_CATEGORIES and ch not in BLANK_LETTERS
                       for ch in text), repr(text)
            assert unicodedata.is_normalized("NFC", text), repr(text)
            assert not CONTROL.search(text), f"control character loaded: {text!r}"
            assert len(text) <= hygiene.MAX_LINE_CHARS
    assert examples.fingerprint == data.fingerprint_records(examples.records)


def check_error(exc: SCLoRAError, name: str) -> None:
    """A refused file: DataValidationError, one problem per line, each naming the file and where."""
    assert isinstance(exc, DataValidationError), f"{type(exc).__name__} instead of DataValidationError: {exc}"
    assert exc.problems
    lines = str(exc).splitlines()
    assert lines[0].startswith(f"{name}: ") and "nothing was loaded" in lines[0], lines[0]
    assert all(line.startswith(("  - ", "  ... and ")) for line in lines[1:]), lines
    for problem in exc.problems:
        assert problem.startswith(name), problem
        assert LOCATED.search(problem[len(name):]) or any(w in problem for w in WHOLE_FILE), problem
        assert len(problem) < 600, f"problem too long to read: {problem[:200]!r}..."


def check_file(path: Path, max_records: int = data.DEFAULT_MAX_RECORDS, **kwargs):
    """Load ``path`` under the time cap; return the Examples, or None when it was refused properly."""
    FILES[os.environ.get("PYTEST_CURRENT_TEST", "?").split("::")[-1].split("[")[0].split(" ")[0]] += 1
    try:
        with time_cap():
            examples = load_examples(path, max_records=max_records, **kwargs)
    except SCLoRAError as exc:
        check_error(exc, path.name)
        return None
    check_loaded(examples, max_records)
    return examples


@contextlib.contextmanager
def scratch(name: str):
    """A fresh file path per generated example (Hypothesis forbids function-scoped tmp_path)."""
    with tempfile.TemporaryDirectory(prefix="sclora-fuzz-") as folder:
        yield Path(folder) / name


# --------------------------------------------------------------------------- strategies

ASCII_WORD = st.text("abcdefghijklmnopqrstuvwxyzABCXYZ0123456789", min_size=1, max_size=8)
# Any character a user may type: letters, marks (combining accents), symbols, spaces, format characters
# (zero-width space, joiners, BOM, soft hyphen), emoji; no control characters and no surrogates.
ANY_CHAR = st.characters(blacklist_categories=("Cs", "Cc"))
SPECIAL = st.sampled_from(["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u0301", "e\u0301",
                           "\u3164", "\u2800", "\u2028", "\u00a0", "\t", "\U0001f600", "\u202e", '"', "\\", ","])
FILLER = st.lists(st.one_of(ANY_CHAR, SPECIAL), max_size=12).map("".join)


@st.composite
def visible_text(draw, newlines: bool = True) -> str:
    """A value with at least one ASCII letter or digit among any other characters."""
    text = draw(FILLER) + draw(ASCII_WORD) + draw(FILLER)
    if newlines and draw(st.booleans()):
        text += "\n" + draw(FILLER) + draw(ASCII_WORD)
    return text


@st.composite
def records(draw, shape: str, newlines: bool = True) -> list[dict]:
    n = draw(st.integers(1, 6))
    text = visible_text(newlines)
    if shape == "text":
        return [{"text": draw(text)} for _ in range(n)]
    if shape == "prompt_response":
        a, b = draw(st.sampled_from(readers.PAIR_FIELDS[:4]))
        return [{a: draw(text), b: draw(text)} for _ in range(n)]
    out = []
    for _ in range(n):
        turns = [{"role": "system", "content": draw(text)}] if draw(st.booleans()) else []
        for _ in range(draw(st.integers(1, 3))):
            turns += [{"role": "user", "content": draw(text)}, {"role": "assistant", "content": draw(text)}]
        out.append({"messages": turns})
    return out


def render(fmt: str, rows: list[dict], *, ascii_json: bool = False) -> bytes:
    """The bytes a user's tool would write for ``rows`` in ``fmt`` (not parquet)."""
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=ascii_json) + "\n" for r in rows).encode()
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=ascii_json, indent=1).encode()
    if fmt in ("csv", "tsv"):
        out = io.StringIO()
        writer = csv.writer(out, delimiter="\t" if fmt == "tsv" else ",", lineterminator="\n")
        columns = list(rows[0])
        writer.writerow(columns)
        for r in rows:
            writer.writerow([json.dumps(r[c]) if c == "messages" else r[c] for c in columns])
        return out.getvalue().encode()
    if fmt == "txt":
        return "".join(r["text"] + "\n" for r in rows).encode()
    raise AssertionError(fmt)


def write(path: Path, fmt: str, rows: list[dict]) -> Path:
    if fmt == "parquet":
        import pandas as pd

        pd.DataFrame(rows).to_parquet(path)
    else:
        path.write_bytes(render(fmt, rows))
    return path


def expected(rows: list[dict], fmt: str) -> list[dict]:
    """The normalised records: NFC everywhere; TXT lines stripped; pair fields renamed."""
    nfc = lambda s: unicodedata.normalize("NFC", s)  # noqa: E731
    out = []
    for r in rows:
        if "messages" in r:
            out.append({"messages": [{"role": m["role"], "content": nfc(m["content"])} for m in r["messages"]]})
        elif "text" in r:
            out.append({"text": nfc(r["text"].strip() if fmt == "txt" else r["text"])})
        else:
            a, b = list(r)
            out.append({"prompt": nfc(r[a]), "response": nfc(r[b])})
    return out


FORMATS = ["jsonl", "json", "csv", "tsv", "txt", "parquet"]
SHAPES = ["text", "prompt_response", "chat"]


# --------------------------------------------------------------------------- valid files


@fuzz_settings(60, 2000)
@given(fmt=st.sampled_from(FORMATS), shape=st.sampled_from(SHAPES), ascii_json=st.booleans(), data_=st.data())
def test_valid_generated_files_load_with_their_records_normalised(fmt, shape, ascii_json, data_):
    if fmt == "txt":
        shape = "text"
    rows = data_.draw(records(shape, newlines=fmt != "txt"))
    if fmt == "txt":  # a TXT line must not look blank after stripping, and holds no line break
        rows = [{"text": r["text"].replace("\u2028", " ")} for r in rows]
    with scratch(f"valid.{fmt}") as path:
        if fmt == "parquet":
            write(path, fmt, rows)
        else:
            path.write_bytes(render(fmt, rows, ascii_json=ascii_json))
        examples = check_file(path)
        assert examples is not None, "a valid file was refused"
        if fmt == "txt" and rows[0]["text"].startswith("\ufeff"):  # found by this test: the file then starts
            rows[0] = {"text": rows[0]["text"][1:]}  # with the bytes of a UTF-8 BOM, which is dropped (documented)
        assert examples.records == expected(rows, fmt)


# --------------------------------------------------------------------------- mutated files

TOKENS = [b"\x00", b"\x01", b"\x08", b"\x0b", b"\x0c", b"\x1b", b"\x1f", b"\x7f", b"\xc2\x85", b"\xc2\x9f",
          b"\r", b"\r\n", b"\n", b"\n\n", b" ", b"\t", b'"', b"\\", b",", b":", b"[", b"]", b"{", b"}",
          b"\\u0000", b"\\u0007", b"\\ud800", b"\\udfff", b"\\u200b", b"\\r", b"\\u0085", b"\\ud83d\\ude00",
          "\u200b".encode(), "\u2060".encode(), "\ufeff".encode(), "\u00ad".encode(), "\u0301".encode(),
          "\u2028".encode(), "\u3164".encode(), b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\xc3", b"\xe2\x80",
          b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf", b"[" * 40, b"{\"a\":" * 40, b"]" * 40,
          b"9" * 4400, b"1e999", b"NaN", b"-Infinity", b"null", b"true", b'"role": "bot"', b'"messages"',
          b'"text"', b'"prompt"', b"PAR1", b"x" * 3000]


@st.composite
def mutated(draw, original: bytes) -> bytes:
    buf = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "insert", "token", "delete", "duplicate", "truncate"]))
        at = draw(st.integers(0, len(buf)))
        if op == "flip" and buf:
            buf[min(at, len(buf) - 1)] = draw(st.integers(0, 255))
        elif op == "insert":
            buf[at:at] = draw(st.binary(min_size=1, max_size=6))
        elif op == "token":
            buf[at:at] = draw(st.sampled_from(TOKENS)) * draw(st.sampled_from([1, 1, 2, 50]))
        elif op == "delete":
            del buf[at:at + draw(st.integers(1, 20))]
        elif op == "duplicate":
            buf[at:at] = buf[at:at + draw(st.integers(1, 200))] * draw(st.integers(1, 30))
        elif op == "truncate":
            del buf[at:]
    return bytes(buf)


@fuzz_settings(110, 4200)
@given(fmt=st.sampled_from(FORMATS), shape=st.sampled_from(SHAPES), other_ext=st.booleans(), data_=st.data())
def test_mutated_files_load_cleanly_or_fail_with_located_problems(fmt, shape, other_ext, data_):
    if fmt == "txt":
        shape = "text"
    rows = data_.draw(records(shape, newlines=fmt != "txt"))
    with scratch(f"source.{fmt}") as source:
        write(source, fmt, rows)
        raw = data_.draw(mutated(source.read_bytes()))
    ext = data_.draw(st.sampled_from(FORMATS)) if other_ext else fmt
    with scratch(f"mutated.{ext}") as path:
        path.write_bytes(raw)
        check_file(path)


# --------------------------------------------------------------------------- arbitrary records

KEYS = st.sampled_from(["text", "prompt", "response", "completion", "instruction", "input", "output", "question",
                        "answer", "messages", "role", "content", "Text", "PROMPT", "id", "", "text\u200b"])
LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-10**30, 10**30), st.floats(allow_nan=True),
                   st.text(max_size=20), FILLER, visible_text(), st.sampled_from(["user", "assistant", "system", "bot"]))
JSON_VALUES = st.recursive(LEAVES, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(KEYS, inner, max_size=4),
    st.lists(st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "system", "bot"]),
                                    "content": inner}), min_size=1, max_size=4),
), max_leaves=12)
RECORDS = st.lists(st.one_of(st.dictionaries(KEYS, JSON_VALUES, min_size=1, max_size=4), JSON_VALUES),
                   min_size=1, max_size=5)


@fuzz_settings(50, 1500)
@given(fmt=st.sampled_from(["jsonl", "json"]), rows=RECORDS, ascii_json=st.booleans())
def test_arbitrary_json_records_load_cleanly_or_fail_with_located_problems(fmt, rows, ascii_json):
    """Any JSON values under the field names a loader looks for: wrong types, roles, shapes, nesting."""
    with scratch(f"records.{fmt}") as path:
        path.write_bytes(render(fmt, rows, ascii_json=ascii_json))
        check_file(path)


PARQUET_CELLS = st.one_of(st.none(), st.integers(-2**62, 2**62), st.floats(), st.text(max_size=20), FILLER,
                          visible_text(), st.binary(max_size=10))


@fuzz_settings(25, 700)
@given(columns=st.dictionaries(KEYS.filter(bool), st.sampled_from(["cell", "list", "messages"]), min_size=1, max_size=3),
       n=st.integers(1, 4), data_=st.data())
def test_parquet_cells_of_any_type_load_cleanly_or_fail_with_located_problems(columns, n, data_):
    import pandas as pd

    frame = {}
    for name, kind in columns.items():
        if kind == "cell":
            values = data_.draw(st.lists(PARQUET_CELLS, min_size=n, max_size=n))
            if len({type(v) for v in values if v is not None}) > 1:  # one Arrow type per column
                values = [None if v is None else str(v) for v in values]
        elif kind == "list":
            values = data_.draw(st.lists(st.lists(st.text(max_size=5), max_size=3), min_size=n, max_size=n))
        else:
            values = data_.draw(st.lists(st.lists(st.fixed_dictionaries({
                "role": st.sampled_from(["user", "assistant", "system", "bot"]),
                "content": st.one_of(FILLER, visible_text(), st.none())}), min_size=0, max_size=3),
                min_size=n, max_size=n))
        frame[name] = values
    with scratch("cells.parquet") as path:
        try:
            pd.DataFrame(frame).to_parquet(path)
        except Exception:  # a frame pyarrow cannot write is no test case
            return
        check_file(path)


# --------------------------------------------------------------------------- TXT layout

TXT_LINES = st.lists(st.sampled_from(["a", "b c", "\u00e9", "e\u0301", "", " ", "\t", "\u200b", "\u3164", " \u2060 ",
                                      "x\r", "\r", "\U0001f600", "\u00ad", "-", "a\rb"]), min_size=1, max_size=14)


def _txt_reference(text: str) -> tuple[str, list[str]]:
    """TXT layout, line by line: the rule of docs/data.md written the slow, obvious way."""
    def blank(line: str) -> bool:
        return all(ch.isspace() or ch in BLANK_LETTERS or unicodedata.category(ch) in BLANK_CATEGORIES for ch in line)

    def norm(value: str) -> str:
        return unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n"))

    blocks, current = [], []
    for line in text.split("\n"):
        line = line.rstrip("\r")
        if blank(line):
            if current:
                blocks.append(current)
            current = []
        else:
            current.append(line)
    if current:
        blocks.append(current)
    if len(blocks) > 1 and any(len(b) > 1 for b in blocks):
        return "txt-blocks", [norm("\n".join(b).strip()) for b in blocks]
    return "txt-lines", [norm(line.strip()) for b in blocks for line in b]


@fuzz_settings(60, 1200)
@given(lines=TXT_LINES, crlf=st.booleans(), final_newline=st.booleans())
@example(lines=["x\r", "a", "", "a"], crlf=True, final_newline=False)  # found by this test: CR CR LF in a block
def test_txt_layout_matches_a_line_by_line_reference(lines, crlf, final_newline):
    text = ("\r\n" if crlf else "\n").join(lines) + ("\n" if final_newline else "")
    with scratch("layout.txt") as path:
        path.write_bytes(text.encode())
        examples = check_file(path)
    fmt, texts = _txt_reference(text)
    if not texts:
        assert examples is None
    else:
        assert examples is not None and examples.format == fmt
        assert [r["text"] for r in examples.records] == texts


@fuzz_settings(30, 900)
@given(shape=st.sampled_from(SHAPES), compression=st.sampled_from(["none", "snappy"]), data_=st.data())
def test_parquet_with_damaged_data_pages_fails_with_a_message(shape, compression, data_):
    """Byte changes inside the data pages only (the footer, which pyarrow checks, stays intact): text that
    is not UTF-8, broken lengths and levels reach the reader (found by make fuzz: a traceback)."""
    import pandas as pd

    rows = data_.draw(records(shape))
    with scratch("pages.parquet") as path:
        pd.DataFrame(rows).to_parquet(path, compression=None if compression == "none" else compression)
        raw = bytearray(path.read_bytes())
        footer = int.from_bytes(raw[-8:-4], "little")
        pages_end = len(raw) - 8 - footer
        for _ in range(data_.draw(st.integers(1, 4))):
            at = data_.draw(st.integers(4, max(4, pages_end - 1)))
            raw[at] = data_.draw(st.sampled_from([0x00, 0x80, 0xA0, 0xC3, 0xED, 0xFF, 0x01, 0x7F]))
        path.write_bytes(bytes(raw))
        check_file(path)


# --------------------------------------------------------------------------- random bytes


@fuzz_settings(40, 1500)
@given(ext=st.sampled_from(FORMATS + ["ndjson", "text"]),
       prefix=st.sampled_from([b"", b"\xef\xbb\xbf", b"\xff\xfe", b"PAR1", b"[", b"{", b"text\n"]),
       body=st.one_of(st.binary(max_size=3000), st.text(max_size=600).map(lambda t: t.encode("utf-8", "surrogatepass"))))
def test_random_bytes_never_raise_anything_but_a_located_error(ext, prefix, body):
    with scratch(f"random.{ext}") as path:
        path.write_bytes(prefix + body + (b"PAR1" if prefix == b"PAR1" else b""))
        check_file(path)


# --------------------------------------------------------------------------- encodings

ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "latin-1", "cp1252", "ascii"]


@fuzz_settings(40, 900)
@given(fmt=st.sampled_from(["jsonl", "json", "csv", "tsv", "txt"]), encoding=st.sampled_from(ENCODINGS),
       data_=st.data())
def test_every_encoding_is_loaded_or_refused_with_a_message(fmt, encoding, data_):
    """UTF-8 (with or without BOM) loads; other encodings load only when their bytes are the same UTF-8
    text (plain ASCII), else a located message (byte and line, or the UTF-16 byte order mark)."""
    rows = data_.draw(records("text", newlines=fmt != "txt"))
    text = render(fmt, rows).decode()
    raw = text.encode(encoding, errors="replace")
    with scratch(f"encoded.{fmt}") as path:
        path.write_bytes(raw)
        examples = check_file(path)
    if encoding in ("utf-8", "utf-8-sig") or raw == text.encode():
        if raw.startswith(b"\xef\xbb\xbf") and encoding != "utf-8-sig":  # found by make fuzz: a TXT file
            rows[0] = {"text": rows[0]["text"][1:]}  # whose first text starts with U+FEFF starts with a BOM
        assert examples is not None and examples.records == expected(rows, fmt)


# --------------------------------------------------------------------------- nesting


def _nest(depth: int, leaf) -> object:
    value = leaf
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


@fuzz_settings(30, 800)
@given(fmt=st.sampled_from(["jsonl", "json", "csv"]), depth=st.integers(1, 80), leaf=st.sampled_from(["s", 1, None]),
       where=st.sampled_from(["text", "content"]))
def test_nesting_is_refused_past_the_limit_and_only_there(fmt, depth, leaf, where):
    """Records nest 1 level (JSONL line), 2 (JSON file) or, for chat content, 3 + 1; the limit counts all."""
    value = _nest(depth, leaf)
    if where == "content" or fmt == "csv":
        row = {"messages": [{"role": "user", "content": value}, {"role": "assistant", "content": "ok"}]}
        levels = depth + 3  # object, list, object
        if fmt == "csv":
            levels = depth + 2  # the cell holds the messages list only
    else:
        row = {"text": value}
        levels = depth + 1
    if fmt == "json":
        levels += 1
    with scratch(f"nested.{fmt}") as path:
        path.write_bytes(render(fmt, [row, row]))
        with pytest.raises(DataValidationError) as info:  # a nested value is never a string
            with time_cap():
                load_examples(path)
        check_error(info.value, path.name)
        FILES["test_nesting_is_refused_past_the_limit_and_only_there"] += 1
    deep = [p for p in info.value.problems if "levels deep" in p]
    if levels > hygiene.MAX_JSON_DEPTH:
        assert deep and "line" in deep[0], info.value.problems
    else:
        assert not deep, info.value.problems


# --------------------------------------------------------------------------- sizes at and over the limits


@fuzz_settings(16, 300)
@given(fmt=st.sampled_from(["jsonl", "csv", "tsv", "txt"]), over=st.integers(-2, 2), line_no=st.integers(1, 3))
def test_line_length_at_and_over_the_limit(fmt, over, line_no):
    rows = [{"text": f"line {i}"} for i in range(3)]
    text = render(fmt, rows).decode().splitlines()
    overhead = len(json.dumps({"text": ""})) if fmt == "jsonl" else 0
    long_value = "y" * (hygiene.MAX_LINE_CHARS + over - overhead)
    long_line = json.dumps({"text": long_value}) if fmt == "jsonl" else long_value
    assert len(long_line) == hygiene.MAX_LINE_CHARS + over
    header = 1 if fmt in ("csv", "tsv") else 0
    text[header + line_no - 1] = long_line
    with scratch(f"long.{fmt}") as path:
        path.write_text("\n".join(text) + "\n")
        examples = check_file(path)
        if over <= 0:
            assert examples is not None and len(examples) == 3
        else:
            assert examples is None
            with pytest.raises(DataValidationError, match=f"line {header + line_no}: the line is "
                                                          f"{hygiene.MAX_LINE_CHARS + over:,} characters long"):
                load_examples(path)


@fuzz_settings(20, 400)
@given(fmt=st.sampled_from(FORMATS), n=st.integers(1, 12), cap=st.integers(1, 12))
def test_record_count_at_and_over_the_cap(fmt, n, cap):
    rows = [{"text": f"sample {i}"} for i in range(n)]
    with scratch(f"count.{fmt}") as path:
        write(path, fmt, rows)
        examples = check_file(path, max_records=cap)
    assert examples.records == rows[:cap]
    assert any("only the first" in w for w in examples.warnings) == (n > cap)


@fuzz_settings(12, 300)
@given(fmt=st.sampled_from(FORMATS), slack=st.integers(-3, 3))
def test_file_size_at_and_over_max_bytes(fmt, slack):
    rows = [{"text": f"sample {i}"} for i in range(5)]
    with scratch(f"size.{fmt}") as path:
        write(path, fmt, rows)
        size = path.stat().st_size
        examples = check_file(path, max_bytes=max(size + slack, 1))
    assert (examples is None) == (slack < 0)


# --------------------------------------------------------------------------- the CLI, in process


def run_cli(*argv: str) -> tuple[int, str, str]:
    from sclora.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def check_cli(path: Path) -> int:
    FILES["test_cli_validate_exits_0_or_2_with_an_error_block"] += 1
    with time_cap():
        code, out, err = run_cli("validate", str(path))
    assert code in (0, 2), (code, err)
    assert "Traceback" not in err
    if code == 0:
        assert re.search(r"^records: \d+$", out, re.M), out
    else:
        head, *rest = err.splitlines()
        assert head.startswith(f"error: {path.name}: "), head
        assert rest and all(line.startswith(("  - ", "  ... and ")) for line in rest), err
        assert out == ""
    return code


@fuzz_settings(40, 1200)
@given(fmt=st.sampled_from(FORMATS), shape=st.sampled_from(SHAPES), mutate=st.booleans(), data_=st.data())
def test_cli_validate_exits_0_or_2_with_an_error_block(fmt, shape, mutate, data_):
    if fmt == "txt":
        shape = "text"
    rows = data_.draw(records(shape, newlines=fmt != "txt"))
    with scratch(f"cli.{fmt}") as path:
        write(path, fmt, rows)
        if mutate:
            path.write_bytes(data_.draw(mutated(path.read_bytes())))
        code = check_cli(path)
    if not mutate:
        assert code == 0


# --------------------------------------------------------------------------- examples found by fuzzing
# Each failing example Hypothesis found is a file in tests/data/bad/ (with its message in
# tests/test_data.py); the families are pinned here too, as explicit cases of the invariants.

FAMILIES = {
    "deep JSON": ("deep.json", b"[" * 100_000 + b"]" * 100_000),
    "deep JSONL": ("deep.jsonl", b'{"text": ' + b"[" * 50_000 + b"]" * 50_000 + b"}\n"),
    "deep CSV cell": ("deep.csv", b'messages\n"' + b"{\"\"a\"\":" * 20_000 + b"1" + b"}" * 20_000 + b'"\n'),
    "only control characters": ("ctl.txt", bytes(range(1, 9)) + b"\x0b\x0c\x0e\x1f\x7f\n" * 3),
    "NUL inside text": ("nul.jsonl", b'{"text": "a\x00b"}\n'),
    "escaped NUL": ("nul2.jsonl", b'{"text": "a\\u0000b"}\n'),
    "NUL in CSV": ("nul.csv", b"text\nab\x00c\n"),
    "only invisible characters": ("zw.txt", "\u200b\u200c\u200d\u2060\ufeff\u00ad\n\u3164\n".encode()),
    "invisible JSON value": ("zw.json", '[{"text": "\\u200b\\u2060"}]'.encode()),
    "invisible Parquet value": ("zw.parquet", None),
    "lone surrogate": ("sur.jsonl", b'{"text": "\\udc00"}\n'),
    "huge integer": ("int.json", b"[" + b"7" * 5000 + b"]"),
    "unterminated strings": ("quotes.json", b'["\\' + b'"\\' * 200_000 + b"]"),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_issue_families_are_refused_with_a_located_problem(family, tmp_path):
    name, raw = FAMILIES[family]
    path = tmp_path / name
    if raw is None:
        import pandas as pd

        pd.DataFrame({"text": ["ok", "\u200b\u200d"]}).to_parquet(path)
    else:
        path.write_bytes(raw)
    assert check_file(path) is None
    assert check_cli(path) == 2


@pytest.mark.parametrize("name", ["json_deep_nesting.json", "txt_nul_in_text.txt", "txt_invisible_only.txt"])
def test_validate_in_a_real_process_exits_2_without_traceback(name):
    """A few files through `python -m sclora validate` in its own process (the rest run in process)."""
    path = Path(__file__).resolve().parents[1] / "data" / "bad" / name
    proc = subprocess.run([sys.executable, "-m", "sclora", "validate", str(path)], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.startswith(f"error: {name}: ")
