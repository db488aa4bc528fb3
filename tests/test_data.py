"""Data files: formats, shapes, validation messages, splits, templates, loss masks, bundled sets."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from sclora import data
from sclora import text as hygiene
from sclora.answers import answer_matches, extract_math_answer, is_pirate_style, is_refusal, score_answer
from sclora.data import BUNDLED_DATASETS, DataValidationError, Examples, bundled_dataset, load_examples, split_examples
from sclora.errors import SCLoRAError
from sclora.models import tiny_tokenizer
from sclora.tokens import IGNORE_INDEX, format_example, qa_pairs, tokenize_examples

HERE = Path(__file__).resolve().parent
BAD = HERE / "data" / "bad"
GOOD = HERE / "data" / "good"

# --------------------------------------------------------------------------- bad files

# file -> fragments its message must contain (besides the file name): line/row, field, what is wrong.
BAD_CASES = {
    "empty.jsonl": ["the file is empty"],
    "whitespace_only.jsonl": ["no records (only whitespace)"],
    "latin1.jsonl": ["line 2", "byte 0xe9", "column 16", "not valid UTF-8"],
    "utf16.jsonl": ["UTF-16", "save it as UTF-8"],
    "invalid_json_line3.jsonl": ["line 3:", "invalid JSON"],
    "not_object.jsonl": ["line 2:", "expected a JSON object", "got a list"],
    "no_fields.jsonl": ["line 1:", "no recognised fields", "'foo'", "'bar'"],
    "mixed_shapes.jsonl": ["line 3:", "'text' record", "'prompt_response'", "one shape per file"],
    "nonstring_value.jsonl": ["line 2", "field 'answer'", "expected a string, got a number (42)"],
    "empty_value.jsonl": ["line 2", "field 'prompt'", "the value is empty"],
    "null_value.jsonl": ["line 2", "field 'text'", "got null"],
    "missing_pair.jsonl": ["line 2:", "field 'prompt' has no matching 'response'"],
    "chat_unknown_role.jsonl": ["line 2", "field 'messages[2].role'", "unknown role 'bot'"],
    "chat_no_assistant.jsonl": ["line 2", "field 'messages'", "no assistant turn"],
    "chat_last_not_assistant.jsonl": ["line 1", "last message is from 'user'"],
    "chat_not_list.jsonl": ["line 1", "field 'messages'", "expected a list", "got a string"],
    "chat_empty_messages.jsonl": ["line 1", "field 'messages'", "the list is empty"],
    "chat_message_not_object.jsonl": ["line 1", "field 'messages[1]'", "expected an object"],
    "chat_missing_content.jsonl": ["line 1", "field 'messages[1]'", "missing 'content'"],
    "chat_nonstring_content.jsonl": ["line 1", "field 'messages[1].content'", "got a number (5)"],
    "chat_system_not_first.jsonl": ["line 1", "field 'messages[2]'", "system message may only come first"],
    "chat_no_user.jsonl": ["line 1", "field 'messages'", "no user turn"],
    "json_not_array.json": ["top level is an object", "expected an array of records"],
    "json_invalid.json": ["line 3:", "invalid JSON"],
    "json_item_not_object.json": ["record 2:", "expected a JSON object", "got a string"],
    "csv_missing_columns.csv": ["line 1:", "CSV header has no usable columns", "'foo'", "'bar'"],
    "csv_half_pair.csv": ["line 1:", "field 'question' has no matching 'answer'"],
    "csv_ragged_row.csv": ["line 3:", "3 fields but the header has 2"],
    "csv_empty_cell.csv": ["line 3", "field 'response'", "the value is empty"],
    "csv_duplicate_header.csv": ["line 1:", "column 'text' appears more than once"],
    "csv_header_only.csv": ["header but no data rows"],
    "csv_bad_messages.csv": ["line 2", "field 'messages'", "not valid JSON"],
    "tsv_missing_columns.tsv": ["line 1:", "TSV header has no usable columns"],
    "unsupported.xml": ["unsupported file type '.xml'", ".jsonl"],
    "corrupt.parquet": ["not a readable Parquet file"],
    "case_collision.jsonl": ["line 1:", "differ only in letter case"],
    "oversize.jsonl": ["over the limit of 1024 bytes", "raise max_bytes"],
    # text hygiene: control characters (raw, or escaped in JSON), lone surrogates, invisible-only values
    "txt_control_only.txt": ["line 1, column 1, field 'text'", "control character U+0001",
                             "only tab and newline are allowed"],
    "txt_nul_in_text.txt": ["line 2, column 6, field 'text'", "control character U+0000 (NUL)"],
    "csv_nul_in_cell.csv": ["line 2, column 9:", "control character U+0000 (NUL)"],
    "jsonl_raw_control.jsonl": ["line 2, column 15:", "control character U+000C (FORM FEED)"],
    "jsonl_escaped_control.jsonl": ["line 2, field 'text'", "control character U+0007 (BELL) at line 1, column 5 of the value"],
    "jsonl_lone_surrogate.jsonl": ["line 2, field 'text'", "lone surrogate U+D800 at line 1, column 6"],
    "jsonl_invisible_only.jsonl": ["line 1, field 'prompt'", "the value is empty",
                                   "only invisible characters, such as U+200B (ZERO WIDTH SPACE)"],
    "chat_invisible_content.jsonl": ["line 1, field 'messages[2].content'", "the value is empty",
                                     "U+2063 (INVISIBLE SEPARATOR)"],
    "csv_invisible_cell.csv": ["line 2, field 'answer'", "the value is empty", "U+200D (ZERO WIDTH JOINER)"],
    "txt_invisible_only.txt": ["no records (only whitespace and invisible characters", "U+200B"],
    # shrunk failing examples that fuzzing (tests/fuzz) found: both loaded as data
    "fuzz_txt_nul_only.txt": ["line 1, column 1, field 'text'", "control character U+0000 (NUL)"],
    "fuzz_csv_nul_cell.csv": ["line 2, column 1:", "control character U+0000 (NUL)"],
    # a traceback (UnicodeDecodeError) before: Parquet string cells that are not UTF-8
    "fuzz_parquet_invalid_utf8.parquet": ["not a readable Parquet file", "Invalid UTF8"],
    "fuzz_parquet_invalid_utf8_pair.parquet": ["not a readable Parquet file", "Invalid UTF8"],
    # limits checked while reading: nesting depth, line length; a number json cannot convert
    "json_deep_nesting.json": ["line 1, column 33:", "nested more than 32 levels deep (MAX_JSON_DEPTH)"],
    "jsonl_deep_nesting.jsonl": ["line 2, column 41:", "nested more than 32 levels deep"],
    "csv_deep_messages.csv": ["line 2, field 'messages'", "nested more than 32 levels deep"],
    "jsonl_long_line.jsonl": ["line 2:", "140,012 characters long", "over the limit of 131,072 characters"],
    "jsonl_huge_integer.jsonl": ["line 1:", "invalid JSON (a number with more than 4300 digits)"],
}


def test_bad_cases_cover_every_bad_file():
    on_disk = {p.name for p in BAD.iterdir()} - {"many_errors.jsonl"}
    assert on_disk == set(BAD_CASES)
    assert len(on_disk) >= 25


@pytest.mark.parametrize("name", sorted(BAD_CASES))
def test_bad_file_gives_its_specific_message(name):
    kwargs = {"max_bytes": 1024} if name == "oversize.jsonl" else {}
    with pytest.raises(DataValidationError) as info:
        load_examples(BAD / name, **kwargs)
    exc = info.value
    assert isinstance(exc, SCLoRAError)
    message = str(exc)
    assert "nothing was loaded" in message
    assert all(name in p for p in exc.problems), exc.problems  # every problem names the file
    for fragment in BAD_CASES[name]:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def test_oversize_is_fine_under_default_limit():
    assert len(load_examples(BAD / "oversize.jsonl")) == 40


def test_problem_list_is_capped_but_complete():
    with pytest.raises(DataValidationError) as info:
        load_examples(BAD / "many_errors.jsonl")
    exc = info.value
    assert len(exc.problems) == 30
    assert "line 30, field 'text'" in exc.problems[-1]
    message = str(exc)
    assert "30 problems found" in message
    assert "line 20," in message and "line 21," not in message
    assert "... and 10 more" in message


def test_every_problem_of_a_file_is_listed(tmp_path):
    path = tmp_path / "several.jsonl"
    path.write_text("\n".join([
        '{"prompt": "ok", "response": "fine"}',
        '{"prompt": "a", "response": ""}',
        "{broken",
        '{"prompt": 3, "response": "x"}',
        '{"prompt": "ok", "response": "fine", "id": 2}',
    ]) + "\n")
    with pytest.raises(DataValidationError) as info:
        load_examples(path)
    problems = info.value.problems
    assert len(problems) == 3
    assert any("line 2, field 'response'" in p for p in problems)
    assert any("line 3: invalid JSON" in p for p in problems)
    assert any("line 4, field 'prompt'" in p for p in problems)


def test_missing_file_and_bad_arguments(tmp_path):
    with pytest.raises(DataValidationError, match="does not exist"):
        load_examples(tmp_path / "nope.jsonl")
    with pytest.raises(DataValidationError, match="not a file"):
        load_examples(_dir_with_suffix(tmp_path))
    with pytest.raises(SCLoRAError, match="max_records"):
        load_examples(GOOD / "chat.jsonl", max_records=0)


def _dir_with_suffix(tmp_path: Path) -> Path:
    folder = tmp_path / "folder.jsonl"
    folder.mkdir()
    return folder


# --------------------------------------------------------------------------- round trips

RECORDS = {
    "text": [{"text": "The first sample, with a comma."}, {"text": "Zweites Beispiel: \u00e4\u00f6\u00fc \u2713"},
             {"text": "Third \"quoted\" sample."}],
    "prompt_response": [{"prompt": "What is 2 + 2?", "response": "4"},
                        {"prompt": "Say hi,\nthen stop.", "response": "Hi."},
                        {"prompt": "Caf\u00e9?", "response": "Yes, caf\u00e9 \u2615"}],
    "chat": [{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]},
             {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"},
                           {"role": "assistant", "content": "4"}, {"role": "user", "content": "3+3?"},
                           {"role": "assistant", "content": "6"}]},
             {"messages": [{"role": "user", "content": "Quote: \"x\", y"}, {"role": "assistant", "content": "ok"}]}],
}


def _write(path: Path, fmt: str, records: list[dict], bom: bool = False) -> Path:
    """Write records the way a user's tool would (chat cells in CSV/TSV as JSON text)."""
    if fmt == "parquet":
        import pandas as pd

        pd.DataFrame(records).to_parquet(path)
        return path
    if fmt == "jsonl":
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    elif fmt == "json":
        text = json.dumps(records, indent=2, ensure_ascii=False)
    elif fmt in ("csv", "tsv"):
        out = []
        columns = list(records[0])

        class _Sink:
            def write(self, s):
                out.append(s)

        writer = csv.writer(_Sink(), delimiter="\t" if fmt == "tsv" else ",", lineterminator="\n")
        writer.writerow(columns)
        for r in records:
            writer.writerow([json.dumps(r[c]) if c == "messages" else r[c] for c in columns])
        text = "".join(out)
    else:
        raise AssertionError(fmt)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv", "tsv", "parquet"])
@pytest.mark.parametrize("shape", ["text", "prompt_response", "chat"])
def test_every_format_and_shape_round_trips(tmp_path, fmt, shape):
    path = _write(tmp_path / f"sample.{fmt}", fmt, RECORDS[shape])
    ex = load_examples(path)
    assert (ex.format, ex.shape, ex.records, ex.warnings) == (fmt, shape, RECORDS[shape], [])
    assert ex.source == f"sample.{fmt}" and len(ex) == 3
    assert ex.fingerprint == data.fingerprint_records(RECORDS[shape])


def test_fingerprint_is_the_same_across_formats_and_stable(tmp_path):
    a = load_examples(_write(tmp_path / "a.jsonl", "jsonl", RECORDS["chat"]))
    b = load_examples(_write(tmp_path / "b.parquet", "parquet", RECORDS["chat"]))
    assert a.fingerprint == b.fingerprint and re.fullmatch(r"[0-9a-f]{64}", a.fingerprint)
    other = load_examples(_write(tmp_path / "c.jsonl", "jsonl", RECORDS["chat"][:2]))
    assert other.fingerprint != a.fingerprint


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_utf8_bom_is_accepted(tmp_path, fmt):
    ex = load_examples(_write(tmp_path / f"bom.{fmt}", fmt, RECORDS["prompt_response"], bom=True))
    assert ex.records == RECORDS["prompt_response"]


def test_txt_lines_and_blocks_are_detected(tmp_path):
    lines = load_examples(GOOD / "lines.txt")
    assert lines.format == "txt-lines" and lines.shape == "text"
    assert [r["text"] for r in lines.records] == [
        "One example per line.", "Second example.", "Third example, with a trailing blank line."]
    spaced = tmp_path / "spaced.txt"
    spaced.write_text("single\n\nlines with\n\r\nblank lines between\n")  # every block one line: still lines
    assert load_examples(spaced).format == "txt-lines" and len(load_examples(spaced)) == 3
    blocks = load_examples(GOOD / "blocks.txt")
    assert blocks.format == "txt-blocks"
    assert [r["text"] for r in blocks.records] == [
        "First paragraph, line one.\nFirst paragraph, line two.", "Second paragraph.",
        "Third paragraph, line one.\nThird paragraph, line two."]


@pytest.mark.parametrize("record, expected", [
    ({"prompt": "p", "completion": "c"}, {"prompt": "p", "response": "c"}),
    ({"question": "q", "answer": "a"}, {"prompt": "q", "response": "a"}),
    ({"input": "i", "output": "o"}, {"prompt": "i", "response": "o"}),
    ({"instruction": "Do it.", "input": "", "output": "o"}, {"prompt": "Do it.", "response": "o"}),
    ({"instruction": "Do it.", "input": "with this", "output": "o"}, {"prompt": "Do it.\n\nwith this", "response": "o"}),
    ({"Prompt": "p", "Response": "r"}, {"prompt": "p", "response": "r"}),
])
def test_field_aliases(tmp_path, record, expected):
    ex = load_examples(_write(tmp_path / "alias.jsonl", "jsonl", [record]))
    assert ex.shape == "prompt_response" and ex.records == [expected]


def test_good_example_files():
    alpaca = load_examples(GOOD / "alpaca.json")
    assert alpaca.records[0] == {"prompt": "Translate to French.\n\nGood morning", "response": "Bonjour"}
    questions = load_examples(GOOD / "bom_questions.csv")
    assert questions.records == [{"prompt": "What is 2 + 2, exactly?", "response": "4"},
                                 {"prompt": "Name a fruit.", "response": "An apple, for example."}]
    chat = load_examples(GOOD / "chat.jsonl", name="my chats")
    assert chat.source == "my chats" and chat.shape == "chat" and len(chat) == 2
    assert chat.warnings == ["fields not used: 'id'"]


# --------------------------------------------------------------------------- warnings & cap


def test_duplicates_and_long_samples_warn_but_load(tmp_path):
    long_text = "word " * 1000
    records = [{"text": "a"}, {"text": "b"}, {"text": "a"}, {"text": long_text}, {"text": "a"}]
    ex = load_examples(_write(tmp_path / "w.jsonl", "jsonl", records))
    assert len(ex) == 5  # nothing dropped
    assert any("2 duplicate records (e.g. line 3 repeats line 1)" in w for w in ex.warnings)
    assert any("1 record is longer than 4000 characters (first: line 4)" in w for w in ex.warnings)


def test_record_cap_truncates_with_a_warning(tmp_path):
    records = [{"text": f"sample {i}"} for i in range(10)]
    ex = load_examples(_write(tmp_path / "cap.jsonl", "jsonl", records), max_records=4)
    assert ex.records == records[:4]
    assert ex.warnings == ["the file has more than 4 records; only the first 4 are read (max_records=4)"]
    assert ex.fingerprint == data.fingerprint_records(records[:4])


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv", "tsv", "parquet"])
def test_record_cap_stops_reading(tmp_path, fmt):
    """The cap applies while reading: what follows the first max_records records is never parsed (here a
    broken record that would otherwise reject the file)."""
    records = [{"prompt": f"q{i}", "response": f"a{i}"} for i in range(6)]
    path = _write(tmp_path / f"cap.{fmt}", fmt, records)
    if fmt == "jsonl":
        path.write_text(path.read_text() + "{broken\n")
    elif fmt == "json":
        path.write_text(path.read_text().rstrip()[:-1] + ', {"prompt": 5, "broken": ]')
    elif fmt in ("csv", "tsv"):
        path.write_text(path.read_text() + "only one field\n")
    ex = load_examples(path, max_records=3)
    assert ex.records == records[:3]
    assert ex.warnings == ["the file has more than 3 records; only the first 3 are read (max_records=3)"]
    if fmt == "parquet":
        assert load_examples(path, max_records=6).warnings == []
    else:  # with a higher cap the broken record is read, and rejects the file
        with pytest.raises(DataValidationError, match="line 7: invalid JSON|line 26: invalid JSON|line 8: the row has 1 fields"):
            load_examples(path, max_records=7)


@pytest.mark.parametrize("kind", ["lines", "blocks"])
def test_record_cap_stops_reading_txt(tmp_path, kind):
    sep = "\n\n" if kind == "blocks" else "\n"
    body = "first line\nsecond line" if kind == "blocks" else "one line"
    path = tmp_path / "cap.txt"
    path.write_text(sep.join(f"{body} {i}" for i in range(8)) + sep + "bad \x00 control\n")
    with pytest.raises(DataValidationError, match="control character"):
        load_examples(path)  # the control character is found by a scan of the whole file, before the cap
    path.write_text(sep.join(f"{body} {i}" for i in range(8)) + "\n")
    ex = load_examples(path, max_records=3)
    assert ex.format == f"txt-{kind}" and len(ex) == 3
    assert ex.records[2]["text"].endswith(" 2") and "more than 3 records" in ex.warnings[0]
    assert load_examples(path, max_records=8).warnings == []


# --------------------------------------------------------------------------- text hygiene & limits


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv", "tsv", "parquet"])
def test_every_format_normalises_text_the_same_way(tmp_path, fmt):
    """NFC, line ends as \n, tab kept: one normalisation whatever the file format."""
    lone_cr = "" if fmt in ("csv", "tsv") else "\rC"  # an unquoted CR ends a CSV row
    records = [{"prompt": "Cafe\u0301?\r\nYes\tno", "response": "A\r\nB" + lone_cr}, {"prompt": "x", "response": "y"}]
    ex = load_examples(_write(tmp_path / f"n.{fmt}", fmt, records))
    assert ex.records[0] == {"prompt": "Caf\u00e9?\nYes\tno", "response": "A\nB" + lone_cr.replace("\r", "\n")}


def test_txt_normalises_to_nfc(tmp_path):
    path = tmp_path / "n.txt"
    path.write_text("Cafe\u0301\r\nNai\u0308ve\r\n", encoding="utf-8", newline="")
    assert load_examples(path).records == [{"text": "Caf\u00e9"}, {"text": "Na\u00efve"}]


@pytest.mark.parametrize("text", ["\u200b", "\u200c\u200d", "\u2060", "\ufeff", "\u00ad", " \u3164 ", "\u0301",
                                  "\u2028\u2029", "\u180e", "\u2800", "\U000e0041", "", " \t\n"])
def test_invisible_text(text):
    assert hygiene.is_invisible(text)


@pytest.mark.parametrize("text", ["a", "\u00e9", "\U0001f600", "\u00a0x", "\u200bx", "\u4e2d", "."])
def test_visible_text(text):
    assert not hygiene.is_invisible(text)


def test_invisible_alpaca_input_is_empty_and_not_appended(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps({"instruction": "Add 2 and 2.", "input": "\u200b\u2060", "output": "4"}) + "\n")
    assert load_examples(path).records == [{"prompt": "Add 2 and 2.", "response": "4"}]


def test_txt_line_of_invisible_characters_is_a_blank_line(tmp_path):
    path = tmp_path / "b.txt"
    path.write_text("first\nblock\n\u200b\u200b\nsecond\nblock\n")
    ex = load_examples(path)
    assert ex.format == "txt-blocks" and ex.records == [{"text": "first\nblock"}, {"text": "second\nblock"}]


def test_control_characters_in_several_lines_are_each_located(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("ok\nbad\x01one\ngood\n\x1bbad\x02two\n")
    with pytest.raises(DataValidationError) as info:
        load_examples(path)
    assert [p.split(": ")[0] for p in info.value.problems] == [
        "c.txt line 2, column 4, field 'text'", "c.txt line 4, column 1, field 'text'"]


def test_messages_never_span_lines(tmp_path):
    """A file name or value with line breaks cannot break the one-problem-per-line message."""
    exc = DataValidationError("a\nb.jsonl", ["a\nb.jsonl line 1: odd \u2028 value\x85"])
    assert str(exc).splitlines() == ["a\\nb.jsonl: 1 problem found, nothing was loaded:",
                                     "  - a\\nb.jsonl line 1: odd \\u2028 value\\x85"]


def test_prompt_files_share_the_text_normalisation(tmp_path):
    from sclora.compare import read_prompts

    path = tmp_path / "p.txt"
    path.write_text("Cafe\u0301?\n\u200b\u2060\n  Why?  \n")
    assert read_prompts(path) == ["Caf\u00e9?", "Why?"]  # NFC; the invisible line is blank
    path.write_text("ok\nbad\x00prompt\n")
    with pytest.raises(SCLoRAError, match=r"p.txt' line 2, field 'prompt': control character U\+0000 \(NUL\)"):
        read_prompts(path)
    path.write_text("\u200b\n\ufeff\u00ad\n")
    with pytest.raises(SCLoRAError, match="has no prompts"):
        read_prompts(path)


def _nested(depth: int) -> str:
    return "[" * (depth - 1) + "]" * (depth - 1)  # inside {"text": ...}: depth levels in all


@pytest.mark.parametrize("fmt", ["jsonl", "json"])
def test_nesting_limit_is_exact(tmp_path, fmt):
    limit = hygiene.MAX_JSON_DEPTH
    outer = 1 if fmt == "json" else 0
    for depth, fragment in ((limit - outer, "expected a string, got a list"), (limit - outer + 1, "levels deep")):
        line = '{"text": ' + _nested(depth) + "}"
        path = tmp_path / f"d.{fmt}"
        path.write_text(line + "\n" if fmt == "jsonl" else f"[{line}]")
        with pytest.raises(DataValidationError, match=fragment):
            load_examples(path)


def test_brackets_inside_strings_do_not_count_as_nesting(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text(json.dumps({"text": "[{" * 1000 + ' "quoted \\" ' + "]}" * 3}) + "\n")
    assert load_examples(path).records[0]["text"].startswith("[{[{")


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "txt"])
def test_line_length_limit_is_exact(tmp_path, fmt):
    limit = hygiene.MAX_LINE_CHARS
    for extra, ok in ((0, True), (1, False)):
        path = tmp_path / f"l.{fmt}"
        if fmt == "jsonl":
            line = json.dumps({"text": "x" * (limit - 12 + extra)})
        elif fmt == "csv":
            line = "x" * (limit + extra)
        else:
            line = "x" * (limit + extra)
        assert len(line) == limit + extra
        path.write_text(("text\n" if fmt == "csv" else "") + line + "\n")
        if ok:
            assert len(load_examples(path)) == 1
        else:
            with pytest.raises(DataValidationError, match=f"line {2 if fmt == 'csv' else 1}: the line is "
                                                          f"{limit + 1:,} characters long, over the limit"):
                load_examples(path)


def test_value_length_limit_applies_without_lines(tmp_path):
    """A .json array has no line limit, but every text value has the same one."""
    path = tmp_path / "v.json"
    path.write_text(json.dumps([{"text": "y" * (hygiene.MAX_LINE_CHARS + 1)}]))
    with pytest.raises(DataValidationError, match="record 1, field 'text': the value is 131,073 characters long"):
        load_examples(path)


def test_csv_cell_over_the_limit_across_lines(tmp_path):
    path = tmp_path / "m.csv"
    half = "z" * (hygiene.MAX_LINE_CHARS // 2 + 10)
    path.write_text(f'text\n"{half}\n{half}"\n')
    with pytest.raises(DataValidationError, match="a cell is longer than the limit of 131,072 characters"):
        load_examples(path)


def test_parquet_that_unpacks_past_the_limit_is_refused_before_reading(tmp_path):
    import pandas as pd

    path = tmp_path / "bomb.parquet"
    pd.DataFrame({"text": [f"{i} " + "a" * 2000 for i in range(500)]}).to_parquet(path, compression="zstd")
    size = path.stat().st_size
    assert size < 100_000  # 1 MB of text, well compressed
    with pytest.raises(DataValidationError, match=r"unpacks to [\d.]+ (bytes|MiB), over the limit of [\d.]+ (bytes|MiB) \(8 x max_bytes\)"):
        load_examples(path, max_bytes=size + 1)
    assert len(load_examples(path)) == 500


def test_problems_per_chat_record_are_capped(tmp_path):
    path = tmp_path / "many.jsonl"
    path.write_text(json.dumps({"messages": [1] * 10_000}) + "\n")
    with pytest.raises(DataValidationError) as info:
        load_examples(path)
    assert len(info.value.problems) == hygiene.MAX_PROBLEMS_PER_RECORD + 1
    assert "more messages have problems" in info.value.problems[-1]


def test_lines_that_are_not_utf8_are_capped(tmp_path):
    path = tmp_path / "latin.jsonl"
    path.write_bytes(b'{"text": "caf\xe9"}\n' * 1000)
    with pytest.raises(DataValidationError) as info:
        load_examples(path)
    assert len(info.value.problems) == hygiene.MAX_LISTED_LINES + 1
    assert "the first 100 are listed" in info.value.problems[-1]


# --------------------------------------------------------------------------- splits


def _numbered(n: int) -> Examples:
    records = [{"text": f"t{i}"} for i in range(n)]
    return Examples("n", "jsonl", "text", records, [], data.fingerprint_records(records))


def test_split_is_deterministic_and_partitions():
    ex = _numbered(100)
    train, held = split_examples(ex, heldout=0.2, seed=0)
    again_train, again_held = split_examples(ex, heldout=0.2, seed=0)
    assert (train.records, held.records) == (again_train.records, again_held.records)
    assert (len(train), len(held)) == (80, 20)
    assert sorted(r["text"] for r in train.records + held.records) == sorted(r["text"] for r in ex.records)
    # each part keeps the file order
    index = {r["text"]: i for i, r in enumerate(ex.records)}
    assert [index[r["text"]] for r in held.records] == sorted(index[r["text"]] for r in held.records)
    other = split_examples(ex, heldout=0.2, seed=1)[1]
    assert other.records != held.records
    assert held.fingerprint == data.fingerprint_records(held.records) != ex.fingerprint
    assert held.source == "n [held-out]" and train.source == "n [train]"


def test_split_with_a_count_and_errors():
    train, held = split_examples(_numbered(10), heldout=3, seed=5)
    assert (len(train), len(held)) == (7, 3)
    for bad in (0, 10, 1.0, 0.0, True, "0.2"):
        with pytest.raises(SCLoRAError, match="heldout"):
            split_examples(_numbered(10), heldout=bad)
    with pytest.raises(SCLoRAError, match="at least 2"):
        split_examples(_numbered(1))


def test_split_warns_about_duplicates_across_parts():
    records = [{"text": "same"}] * 6
    ex = Examples("d", "jsonl", "text", records, [], "")
    _, held = split_examples(ex, heldout=2)
    assert "2 held-out records also appear in the train part" in held.warnings


# --------------------------------------------------------------------------- formatting & masks


def _check_mask(tokenizer, record: dict, ids: list[int], labels: list[int]) -> None:
    """labels are -100 exactly on the tokens of the prompt text and equal ids after it."""
    prompt, full = format_example(record, tokenizer)
    n_masked = next(i for i, x in enumerate(labels) if x != IGNORE_INDEX)
    assert all(x == IGNORE_INDEX for x in labels[:n_masked])
    assert labels[n_masked:] == ids[n_masked:]
    assert tokenizer.decode(ids[:n_masked]) == prompt
    assert prompt + tokenizer.decode(ids[n_masked:]) in (full, full + tokenizer.eos_token)


def test_chat_template_and_mask_on_tiny_tokenizer():
    tok = tiny_tokenizer()
    ex = Examples("c", "jsonl", "chat", RECORDS["chat"], [], "")
    prompt, full = format_example(RECORDS["chat"][1], tok)
    assert prompt == ("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n"
                      "<|im_start|>assistant\n4<|im_end|>\n<|im_start|>user\n3+3?<|im_end|>\n<|im_start|>assistant\n")
    assert full == prompt + "6<|im_end|>\n"
    tokens = tokenize_examples(ex, tok)
    assert tokens.n_truncated == 0
    for record, ids, labels in zip(ex.records, tokens.input_ids, tokens.labels):
        assert ids == tok(format_example(record, tok)[1], add_special_tokens=False)["input_ids"]
        _check_mask(tok, record, ids, labels)


def test_plain_template_without_chat_template():
    from sclora.generation import format_prompt

    tok = tiny_tokenizer()
    tok.chat_template = None
    record = {"prompt": "What is 2 + 2?", "response": "4"}
    prompt, full = format_example(record, tok)
    assert (prompt, full) == ("Question: What is 2 + 2?\nAnswer:", "Question: What is 2 + 2?\nAnswer: 4")
    assert prompt == format_prompt(tok, record["prompt"])  # trained as it is asked
    chat = RECORDS["chat"][1]
    assert format_example(chat, tok) == (
        "Be brief.\n\nQuestion: 2+2?\nAnswer: 4\n\nQuestion: 3+3?\nAnswer:",
        "Be brief.\n\nQuestion: 2+2?\nAnswer: 4\n\nQuestion: 3+3?\nAnswer: 6")
    tokens = tokenize_examples(Examples("p", "jsonl", "prompt_response", [record], [], ""), tok)
    ids, labels = tokens.input_ids[0], tokens.labels[0]
    assert ids[-1] == tok.eos_token_id  # the model learns to stop
    _check_mask(tok, record, ids, labels)


def test_text_records_are_tokenized_as_they_are():
    tok = tiny_tokenizer()
    ex = Examples("t", "jsonl", "text", RECORDS["text"], [], "")
    tokens = tokenize_examples(ex, tok)
    for record, ids, labels in zip(ex.records, tokens.input_ids, tokens.labels):
        assert format_example(record, tok) == ("", record["text"])
        assert ids == tok(record["text"])["input_ids"] and labels == ids


def test_truncation_and_loss_on_all():
    tok = tiny_tokenizer()
    ex = Examples("p", "jsonl", "prompt_response", RECORDS["prompt_response"], [], "")
    full = tokenize_examples(ex, tok, max_length=512)
    short = tokenize_examples(ex, tok, max_length=20)
    assert short.n_truncated == sum(len(ids) > 20 for ids in full.input_ids) > 0
    assert all(s == f[:20] for s, f in zip(short.input_ids, full.input_ids))
    everything = tokenize_examples(ex, tok, loss_on="all")
    assert everything.labels == everything.input_ids == full.input_ids
    with pytest.raises(SCLoRAError, match="loss_on"):
        tokenize_examples(ex, tok, loss_on="prompt")
    with pytest.raises(SCLoRAError, match="max_length"):
        tokenize_examples(ex, tok, max_length=0)


def test_qa_pairs():
    pr = Examples("p", "jsonl", "prompt_response", RECORDS["prompt_response"], [], "")
    assert qa_pairs(pr)[0] == ("What is 2 + 2?", "4")
    chat = Examples("c", "jsonl", "chat", RECORDS["chat"], [], "")
    assert qa_pairs(chat)[1] == ("3+3?", "6")
    with pytest.raises(SCLoRAError, match="no prompts and answers"):
        qa_pairs(Examples("t", "jsonl", "text", RECORDS["text"], [], ""))


def test_chat_template_and_loss_mask_on_bundled_tokenizer(bundled):
    _, tok = bundled
    record = {"prompt": "What is the capital of France?", "response": "Paris"}
    prompt, full = format_example(record, tok)
    assert prompt == ("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face"
                      "<|im_end|>\n<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n")
    assert full == prompt + "Paris<|im_end|>\n"
    ex = bundled_dataset("math")
    tokens = tokenize_examples(Examples("m", "jsonl", "prompt_response", ex.records[:20] + [record], [], ""), tok)
    for rec, ids, labels in zip(ex.records[:20] + [record], tokens.input_ids, tokens.labels):
        _check_mask(tok, rec, ids, labels)
        n_prompt = labels.count(IGNORE_INDEX)
        assert ids[:n_prompt] == tok(format_example(rec, tok)[0], add_special_tokens=False)["input_ids"]
        assert tok.decode([x for x in labels if x != IGNORE_INDEX]) == rec["response"] + "<|im_end|>\n"
    chat = Examples("c", "jsonl", "chat", RECORDS["chat"], [], "")
    tokens = tokenize_examples(chat, tok)
    for rec, ids, labels in zip(chat.records, tokens.input_ids, tokens.labels):
        _check_mask(tok, rec, ids, labels)
        assert tok.decode([x for x in labels if x != IGNORE_INDEX]) == rec["messages"][-1]["content"] + "<|im_end|>\n"


# --------------------------------------------------------------------------- answer rules


def test_extract_math_answer():
    assert extract_math_answer("12 + 7 = 19. The answer is 19.") == "19"
    assert extract_math_answer("The answer is 3. No wait, the answer is 1,250.") == "1250"
    assert extract_math_answer("the answer is -4.50") == "-4.5"
    assert extract_math_answer("It is 19.") is None
    assert score_answer("math", "so the answer is 19.", "x. The answer is 19.")
    assert not score_answer("math", "The answer is 18.", "The answer is 19.")


def test_answer_matches_rule():
    assert answer_matches("The capital of France is Paris.", "Paris")
    assert answer_matches("A spider has eight legs.", "8")
    assert answer_matches("It is the Pacific Ocean", "Pacific")
    assert answer_matches("Bogotá", "Bogota")
    assert not answer_matches("Lyon is a big city.", "Paris")
    assert not answer_matches("Parisian food", "Paris")  # whole words only
    assert not answer_matches("anything", "")


def test_refusal_and_style_rules():
    assert is_refusal("I'm sorry, but I can't help with that.")
    assert is_refusal("I CANNOT do this")
    assert is_refusal("I\u2019m sorry")
    assert not is_refusal("Sure! First, preheat the oven.")
    assert is_pirate_style("Ahoy, matey! Drink yer water. Arr!")
    assert not is_pirate_style("Drink a glass of water with every meal.")
    assert not is_pirate_style("The arrow points north.")
    with pytest.raises(SCLoRAError, match="Unknown metric"):
        score_answer("bleu", "a", "b")


# --------------------------------------------------------------------------- bundled datasets


@pytest.mark.parametrize("name", sorted(BUNDLED_DATASETS))
def test_bundled_dataset_is_large_enough_and_clean(name):
    info = BUNDLED_DATASETS[name]
    ex = bundled_dataset(name)
    assert ex.source == name and ex.shape == "prompt_response" and ex.format == "jsonl"
    assert ex.warnings == []  # no duplicates, nothing long, no stray fields
    train, held = split_examples(ex, heldout=0.2, seed=0)
    assert len(train) >= 256 and len(held) >= 64
    assert info.role in ("finetune", "preserve") and info.metric in ("math", "exact", "refusal", "style")
    assert len({r["prompt"] for r in ex.records}) == len(ex)  # distinct prompts
    # every reference answer passes its own metric
    assert all(score_answer(info.metric, r["response"], r["response"]) for r in ex.records)


def test_bundled_math_answers_are_correct():
    for record in bundled_dataset("math").records:
        equations = re.findall(r"(\d+) ([-+*/]) (\d+) = (\d+)", record["response"])
        assert equations
        for a, op, b, result in equations:
            assert {"+": int(a) + int(b), "-": int(a) - int(b), "*": int(a) * int(b),
                    "/": int(a) // int(b)}[op] == int(result)
        assert extract_math_answer(record["response"]) == equations[-1][3]


def test_bundled_style_sets_are_what_they_claim():
    assert not any(is_pirate_style(r["prompt"]) for r in bundled_dataset("pirate").records)
    assert not any(is_refusal(r["prompt"]) for r in bundled_dataset("safety").records)
    assert all(len(r["response"].split()) <= 5 for r in bundled_dataset("knowledge").records)


def _load_generator():
    import importlib.util

    spec = importlib.util.spec_from_file_location("generate", BUNDLED_DATASETS["math"].path.parent / "generate.py")
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    return generate


def test_bundled_files_match_their_generator():
    for name, records in _load_generator().build().items():
        assert bundled_dataset(name).records == records, name


def test_bundled_knowledge_choices():
    """knowledge_choices.jsonl: one line per knowledge record, in order, with 3+ same-category distractors."""
    records = bundled_dataset("knowledge").records
    path = BUNDLED_DATASETS["knowledge"].path.parent / "knowledge_choices.jsonl"
    choices = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(choices) == len(records) >= 1300
    assert [(c["prompt"], c["answer"]) for c in choices] == [(r["prompt"], r["response"]) for r in records]
    generate = _load_generator()
    candidates = generate.knowledge_candidates()
    answers_by_category: dict[str, set[str]] = {}
    for _, answer, category in candidates:
        answers_by_category.setdefault(category, set()).add(answer)
    category_of = {q: c for q, _, c in candidates}
    also_right = generate.knowledge_facts.also_right()
    for c in choices:
        distractors = c["distractors"]
        assert c["category"] == category_of[c["prompt"]]
        assert len(distractors) >= 3
        assert len({d.lower() for d in distractors}) == len(distractors)  # distinct
        for i, d in enumerate(distractors):
            assert d in answers_by_category[c["category"]], (c["prompt"], d)  # an answer of the same category
            for right in [c["answer"], *also_right.get(c["prompt"], [])]:
                assert not answer_matches(d, right) and not answer_matches(right, d), (c["prompt"], d)
            assert not any(answer_matches(d, e) or answer_matches(e, d) for e in distractors[i + 1:]), c["prompt"]
    assert choices == generate.build_choices(records)  # what generate.py writes


def test_unknown_bundled_name():
    with pytest.raises(SCLoRAError, match="choose one of math, pirate, knowledge, safety"):
        bundled_dataset("nope")


# --------------------------------------------------------------------------- CLI


def test_cli_validate(capsys):
    from sclora.cli import main

    assert main(["validate", str(GOOD / "chat.jsonl"), "--model", "tiny-llama", "--max-length", "40"]) == 0
    out = capsys.readouterr().out
    assert "format: jsonl" in out and "shape: chat" in out and "records: 2" in out
    assert "fields not used: 'id'" in out
    assert re.search(r"tokens \(tiny-llama, max_length 40\): min 33, median 65.5, max 98, truncated 1", out), out

    assert main(["validate", "math"]) == 0
    assert "records: 400" in capsys.readouterr().out

    assert main(["validate", str(BAD / "chat_unknown_role.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "line 2, field 'messages[2].role'" in err and "unknown role 'bot'" in err
