"""Bad input, bad files, bad models: what a user sees, through the real CLI.

Every failure must be one line on stderr that says what to do, with nothing
written under the output name; every documented degradation (empty notes,
very long notes, skipped lines, duplicate ids) must keep the rows and say so.
"""

from __future__ import annotations

import collections
import csv
import hashlib
import json
import operator
import os
import pickle
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import skops.io as sio
from click.testing import CliRunner

import objections
from objections import LABELS, InputError, LabelError, ModelError
from objections.classifier import MAX_CHARS
from objections.cli import cli
from objections.io import TableWriter, iter_chunks, read_labelled, read_table
from objections.persist import TRUSTED_TYPES, load
from objections.training import MIN_PER_LABEL

try:
    import resource
except ImportError:  # not POSIX
    resource = None

# -- helpers -------------------------------------------------------------------


def run(*args, stdin=None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=stdin)


def assert_one_line_error(result, *fragments):
    """Exit 1, one ``Error:`` line on stderr naming every fragment, no traceback."""
    assert result.exit_code == 1, (result.exit_code, result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exc_info
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert "Traceback" not in result.output
    return lines[0]


def leftovers(folder, *keep):
    """Files in ``folder`` other than ``keep`` (temporary files included)."""
    return sorted(p.name for p in Path(folder).iterdir() if p.name not in keep)


def quoted(text):
    return '"' + text.replace('"', '""') + '"'


def write_csv(path, header, rows):
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def notes(corpus):
    """Real notes of each label, for tables the tests build."""
    return [row["text"] for row in corpus[:40]]


@pytest.fixture(scope="module")
def model(small_model_dir):
    return str(small_model_dir)


# -- empty and missing texts ------------------------------------------------------


def _empty_cases(tmp_path, notes):
    csv_path = tmp_path / "empty.csv"
    csv_path.write_text(
        f'id,text\n1,{quoted(notes[0])}\n2,\n3,"   "\n4,"\t\n"\n5,{quoted(notes[1])}\n', encoding="utf-8"
    )
    jsonl_path = tmp_path / "empty.jsonl"
    records = [
        {"id": 1, "text": notes[0]},
        {"id": 2, "text": None},
        {"id": 3},
        {"id": 4, "text": ""},
        {"id": 5, "text": notes[1]},
    ]
    jsonl_path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    parquet_path = tmp_path / "empty.parquet"
    pd.DataFrame({"id": [1, 2, 3, 4, 5], "text": [notes[0], None, float("nan"), " ", notes[1]]}).to_parquet(
        parquet_path
    )
    return {"csv": csv_path, "jsonl": jsonl_path, "parquet": parquet_path}


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_empty_and_missing_texts_are_scored_none_and_kept(tmp_path, notes, model, fmt):
    source = _empty_cases(tmp_path, notes)[fmt]
    out = tmp_path / "scored.csv"
    result = run("score", source, "-o", out, "--model", model, "--jobs", "1")
    assert result.exit_code == 0, result.output
    scored = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert scored["id"].tolist() == ["1", "2", "3", "4", "5"]
    assert scored["note"].tolist() == ["", "empty", "empty", "empty", ""]
    assert scored["primary"].tolist()[1:4] == ["none"] * 3
    assert scored["labels"].tolist()[1:4] == ["none"] * 3
    assert scored["evidence"].tolist()[1:4] == [""] * 3
    assert set(scored["primary"]) <= set(LABELS)
    assert "3 empty" in result.stderr


# -- very long texts ---------------------------------------------------------------


def test_texts_over_a_megabyte_are_truncated_and_flagged(tmp_path, notes, model, small_model):
    long_text = " ".join(notes) * (1_100_000 // len(" ".join(notes)) + 1)
    assert len(long_text.encode()) > 1_000_000
    source = write_csv(tmp_path / "long.csv", ["id", "text"], [["a", long_text], ["b", notes[2]]])
    out = tmp_path / "scored.jsonl"
    result = run("score", source, "-o", out, "--model", model, "--jobs", "1")
    assert result.exit_code == 0, result.output
    scored = pd.read_json(out, lines=True, dtype=False)
    assert scored["note"].tolist() == ["truncated", ""]
    assert scored["text"][0] == long_text, "the row's text is written back whole"
    # The documented policy: the first MAX_CHARS characters are what is scored.
    expected = small_model.tag([long_text[:MAX_CHARS]])[0]
    assert scored["primary"][0] == expected["primary"]
    assert scored["score_market"][0] == pytest.approx(expected["scores"]["market"], abs=1e-4)
    assert "1 truncated" in result.stderr


def test_a_megabyte_without_spaces_does_not_crash_tag(small_model):
    (result,) = small_model.tag(["x" * 1_200_000])
    assert result["note"] == "truncated"
    assert result["primary"] in LABELS


# -- encodings ---------------------------------------------------------------------


def _latin1_file(path, notes, rows=3000):
    """ASCII rows, then one Latin-1 row far past the first read block."""
    head = "id,text\n" + "".join(f"{i},{quoted(notes[i % len(notes)])}\n" for i in range(rows))
    bad_row = f"{rows},Caf\u00e9 owner said the budget is frozen\n"
    data = head.encode("utf-8") + bad_row.encode("latin-1")
    path.write_bytes(data)
    offset = len(head.encode()) + len(f"{rows},Caf")
    line = head.count("\n") + 1
    return offset, line


def test_non_utf8_bytes_name_the_real_byte_offset_and_line(tmp_path, notes, model):
    source = tmp_path / "export.csv"
    offset, line = _latin1_file(source, notes)
    assert offset > 1 << 16, "the bad byte must lie beyond the first read block"
    out = tmp_path / "scored.csv"
    # One chunk holds the whole file, so the error comes before any scoring.
    result = run("score", source, "-o", out, "--model", model, "--jobs", "1", "--chunk-size", "10000")
    assert_one_line_error(result, "0xe9", f"byte offset {offset}", f"line {line}", "--encoding latin-1")
    assert leftovers(tmp_path, "export.csv") == []


def test_non_utf8_offset_in_jsonl_and_on_stdin(tmp_path):
    good = "".join(json.dumps({"text": f"note {i} " + "x" * 50}) + "\n" for i in range(2000)).encode()
    data = good + b'{"text": "caf\xe9"}\n'
    path = tmp_path / "notes.jsonl"
    path.write_bytes(data)
    with pytest.raises(InputError, match=rf"offset {len(good) + 13} \(line 2001\)"):
        list(iter_chunks(path, chunksize=100))


def test_encoding_latin1_reads_the_same_file(tmp_path, notes, model):
    source = tmp_path / "export.csv"
    _latin1_file(source, notes, rows=20)
    out = tmp_path / "scored.csv"
    result = run("score", source, "-o", out, "--model", model, "--jobs", "1", "--encoding", "latin-1")
    assert result.exit_code == 0, result.output
    scored = pd.read_csv(out, dtype=str, keep_default_na=False, encoding="utf-8")
    assert len(scored) == 21
    assert scored["text"].iloc[-1] == "Caf\u00e9 owner said the budget is frozen"


def test_unknown_encoding_is_one_line(tmp_path, model):
    source = write_csv(tmp_path / "a.csv", ["text"], [["hello"]])
    result = run("score", source, "-o", tmp_path / "o.csv", "--model", model, "--encoding", "klingon")
    assert_one_line_error(result, "Unknown encoding 'klingon'")


def test_utf16_is_refused_as_binary_unless_named(tmp_path, notes, model):
    source = tmp_path / "u16.csv"
    source.write_text(f"id,text\n1,{quoted(notes[0])}\n", encoding="utf-16")
    result = run("score", source, "-o", tmp_path / "o.csv", "--model", model)
    assert_one_line_error(result, "--encoding utf-16")
    result = run(
        "score", source, "-o", tmp_path / "o.csv", "--model", model, "--encoding", "utf-16", "-j", "1"
    )
    assert result.exit_code == 0, result.output
    assert pd.read_csv(tmp_path / "o.csv")["text"].tolist() == [notes[0]]


# -- malformed CSV -------------------------------------------------------------------

RAGGED = (
    "id,text\n"
    '1,"Went with the incumbent, their team understood us better"\n'
    '2,"No SSO, so security said no",extra\n'  # line 3: three fields
    "3,Budget frozen until Q3\n"
    "4\n"  # line 5: one field (a note broken over two lines)
    '5,"Too complex for our reps"\n'
)
STRAY_QUOTE = (
    "id,text\n"
    '1,"Budget frozen\n'  # line 2: the quote never closes here...
    '2,"No SSO"\n'  # line 3: ...and pairs with this one, text follows it
    "3,Not a priority this year\n"
)


def test_ragged_rows_name_the_line(tmp_path, model):
    source = tmp_path / "ragged.csv"
    source.write_text(RAGGED, encoding="utf-8")
    result = run("score", source, "-o", tmp_path / "out.csv", "--model", model, "-j", "1")
    assert_one_line_error(result, "line 3", "expected 2 fields", "found 3", "--on-bad-lines skip")
    assert leftovers(tmp_path, "ragged.csv") == []


def test_short_rows_are_not_padded_silently(tmp_path):
    source = tmp_path / "short.csv"
    source.write_text("id,text\n1,Customer said\nno budget this year\n", encoding="utf-8")
    with pytest.raises(InputError, match="line 3: expected 2 fields like the header, found 1"):
        read_table(source)


def test_unbalanced_quote_names_the_lines(tmp_path, model):
    source = tmp_path / "quote.csv"
    source.write_text(STRAY_QUOTE, encoding="utf-8")
    result = run("score", source, "-o", tmp_path / "out.csv", "--model", model, "-j", "1")
    assert_one_line_error(result, "line 3", "from line 2", "quote")


def test_quote_never_closed_is_an_error_even_when_skipping(tmp_path, model):
    source = tmp_path / "open.csv"
    source.write_text('id,text\n1,fine\n2,"never closed\n3,lost\n4,lost too\n', encoding="utf-8")
    for extra in ([], ["--on-bad-lines", "skip"]):
        result = run("score", source, "-o", tmp_path / "out.csv", "--model", model, "-j", "1", *extra)
        assert_one_line_error(result, "line 3", "never closed")
    assert leftovers(tmp_path, "open.csv") == []


def test_skip_bad_lines_keeps_good_rows_and_counts_skipped_lines(tmp_path, model):
    source = tmp_path / "both.csv"
    source.write_text(RAGGED + STRAY_QUOTE.split("\n", 1)[1].replace("1,", "6,", 1), encoding="utf-8")
    out = tmp_path / "out.csv"
    result = run(
        "score", source, "-o", out, "--model", model, "-j", "1", "--on-bad-lines", "skip", "--chunk-size", "2"
    )
    assert result.exit_code == 0, result.output
    # line 3 (three fields), line 5 (one field), lines 7-8 (the stray quote)
    assert "Skipped 4 malformed lines." in result.stderr
    assert pd.read_csv(out, dtype=str)["id"].tolist() == ["1", "3", "5", "3"]


def test_skip_bad_lines_in_jsonl(tmp_path):
    source = tmp_path / "notes.jsonl"
    source.write_text('{"text": "a"}\n{"text": \n[1, 2]\n{"text": "b"}\n', encoding="utf-8")
    with pytest.raises(InputError, match="line 2 is not valid JSON"):
        read_table(source)
    stats = {}
    assert read_table(source, on_bad_lines="skip", stats=stats)["text"].tolist() == ["a", "b"]
    assert stats["bad_lines"] == 2


# -- columns -------------------------------------------------------------------------


def test_missing_text_column_lists_columns_and_suggests_one(tmp_path, notes, model):
    source = write_csv(
        tmp_path / "crm.csv", ["Deal ID", "Stage", "Closed Lost Reason"], [["D1", "Closed Lost", notes[0]]]
    )
    result = run("score", source, "-o", tmp_path / "out.csv", "--model", model)
    assert_one_line_error(
        result,
        "no column 'text'",
        "'Deal ID', 'Stage', 'Closed Lost Reason'",
        "Did you mean --text-col 'Closed Lost Reason'?",
    )
    assert leftovers(tmp_path, "crm.csv") == []


def test_misspelt_id_column_is_suggested(tmp_path, notes, model):
    source = write_csv(tmp_path / "crm.csv", ["deal_id", "text"], [["D1", notes[0]]])
    result = run("score", source, "-o", tmp_path / "out.csv", "--model", model, "--id-col", "deal_ids")
    assert_one_line_error(result, "no column 'deal_ids'", "Did you mean --id-col 'deal_id'?")


# -- binary and wrong-format files ---------------------------------------------------------


def _wrong_files(tmp_path, notes):
    pdf = tmp_path / "report.csv"
    pdf.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n")
    full = tmp_path / "full.parquet"
    pd.DataFrame({"text": notes * 50}).to_parquet(full)
    truncated = tmp_path / "cut.parquet"
    truncated.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    rng_xlsx = tmp_path / "random.xlsx"
    rng_xlsx.write_bytes(os.urandom(5000))
    book = tmp_path / "book.xlsx"
    pd.DataFrame({"text": notes}).to_excel(book, index=False)
    cut_xlsx = tmp_path / "cut.xlsx"
    cut_xlsx.write_bytes(book.read_bytes()[:1500])
    docx = shutil.copy(book, tmp_path / "notes.docx")
    png = tmp_path / "notes.jsonl"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(200))
    noise = tmp_path / "noise.tsv"
    noise.write_bytes(bytes(range(256)) * 8)
    return {
        "pdf renamed .csv": (pdf, "looks like a PDF, not CSV text"),
        "truncated parquet": (truncated, "truncated or damaged"),
        "random bytes .xlsx": (rng_xlsx, "is not an XLSX workbook"),
        "truncated xlsx": (cut_xlsx, "cannot be read as an XLSX workbook"),
        "png renamed .jsonl": (png, "looks like a PNG image"),
        "binary .tsv": (noise, "looks binary"),
        "folder": (tmp_path, "is a directory"),
        "missing": (tmp_path / "nope.csv", "does not exist"),
        "unknown extension": (Path(docx), "Cannot tell the format"),
    }


def test_wrong_format_files_give_one_sentence(tmp_path, notes, model):
    folder = tmp_path / "in"
    folder.mkdir()
    cases = _wrong_files(folder, notes)
    for name, (path, fragment) in cases.items():
        result = run("score", path, "-o", tmp_path / "out.csv", "--model", model)
        line = assert_one_line_error(result, fragment)
        assert line.count(". ") == 0, (name, line)
    assert not (tmp_path / "out.csv").exists()


# -- duplicate ids -----------------------------------------------------------------------------


def test_duplicate_ids_are_scored_and_warned(tmp_path, notes, model):
    ids = ["a", "b", "a", "c", "b", "a"]
    source = write_csv(tmp_path / "dup.csv", ["id", "text"], [[i, notes[k]] for k, i in enumerate(ids)])
    out = tmp_path / "out.csv"
    result = run(
        "score", source, "-o", out, "--model", model, "--id-col", "id", "-j", "1", "--chunk-size", "2"
    )
    assert result.exit_code == 0, result.output
    assert pd.read_csv(out, dtype=str)["id"].tolist() == ids
    assert "Warning: 3 rows repeat an id" in result.stderr


# -- training data ------------------------------------------------------------------------------


def _labelled(corpus, per_label, labels=LABELS):
    rows, seen = [], collections.Counter()
    for row in corpus:
        primary = row["labels"].split(";")[0]
        if row["split"] == "train" and primary in labels and seen[primary] < per_label:
            seen[primary] += 1
            rows.append([row["text"], row["labels"]])
    return rows


def test_train_unknown_labels_name_file_rows_and_label(tmp_path, corpus):
    rows = _labelled(corpus, 10)
    rows[4][1] = "budget"
    rows[9][1] = "budget"
    rows[12][1] = "pitch;Pricing"
    source = write_csv(tmp_path / "mine.csv", ["text", "labels"], rows)
    result = run("train", source, "-o", tmp_path / "model")
    assert_one_line_error(
        result,
        "unknown label 'budget' in",
        "mine.csv rows 5, 10",
        "unknown label 'Pricing' in",
        "mine.csv row 13",
        "labels are pitch, product_fit, market, none",
    )
    assert leftovers(tmp_path, "mine.csv") == []


def test_train_empty_label_cell_names_row(tmp_path, corpus):
    rows = _labelled(corpus, 10)
    rows[6][1] = ""
    source = write_csv(tmp_path / "mine.csv", ["text", "labels"], rows)
    with pytest.raises(LabelError, match="the label cell is empty in .*mine.csv row 7"):
        read_labelled(source)


def test_train_too_few_examples_says_how_many(tmp_path, corpus):
    rows = _labelled(corpus, 20, ("market", "pitch"))
    rows = [r for r in rows if not r[1].startswith("pitch")] + [r for r in rows if r[1].startswith("pitch")][
        :3
    ]
    source = write_csv(tmp_path / "few.csv", ["text", "labels"], rows)
    result = run("train", source, "-o", tmp_path / "model")
    assert_one_line_error(result, "'pitch' has 3", f"at least {MIN_PER_LABEL}")


def test_train_single_label_is_refused(tmp_path, corpus):
    source = write_csv(tmp_path / "one.csv", ["text", "labels"], _labelled(corpus, 20, ("market",)))
    result = run("train", source, "-o", tmp_path / "model")
    assert_one_line_error(result, "only one label ('market'", "at least two labels")


def test_train_conflicting_labels_warn_with_count(tmp_path, corpus):
    rows = _labelled(corpus, 12)
    market = [r for r in rows if r[1].startswith("market")][:3]
    rows += [[text.upper(), "pitch"] for text, _ in market]  # same words, other label
    source = write_csv(tmp_path / "conflict.csv", ["text", "labels"], rows)
    result = run("train", source, "-o", tmp_path / "model", "--cv", "2", "--no-cv-report")
    assert result.exit_code == 0, result.output
    assert "Warning: 3 rows repeat a text that has different labels" in result.stderr
    assert load(tmp_path / "model").predict([market[0][0]])[0] in LABELS


def _labelled_inputs(tmp_path, corpus):
    rows = _labelled(corpus, 10)
    good = write_csv(tmp_path / "good.csv", ["text", "labels"], rows)
    latin = tmp_path / "latin.csv"
    latin.write_bytes(good.read_bytes() + "Caf\u00e9 closed,market\n".encode("latin-1"))
    offset = good.stat().st_size + 3
    last_line = good.read_bytes().count(b"\n") + 1  # notes may span lines
    no_labels = write_csv(tmp_path / "nolabels.csv", ["text", "Label"], rows)
    unknown = write_csv(tmp_path / "unknown.csv", ["text", "labels"], rows[:5] + [[rows[5][0], "budget"]])
    ragged = tmp_path / "ragged.csv"
    ragged.write_text(good.read_text(encoding="utf-8") + "a,b,c\n", encoding="utf-8")
    pdf = tmp_path / "scan.jsonl"
    pdf.write_bytes(b"%PDF-1.4\n")
    return {
        "non-UTF-8": (latin, f"byte offset {offset} (line {last_line})"),
        "missing label column": (no_labels, "Did you mean --label-col 'Label'?"),
        "unknown label": (unknown, "unknown label 'budget' in"),
        "ragged row": (ragged, f"line {last_line}: expected 2 fields"),
        "pdf renamed .jsonl": (pdf, "looks like a PDF"),
    }


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_train_and_evaluate_report_bad_input_files(tmp_path, corpus, model, command):
    for path, fragment in _labelled_inputs(tmp_path, corpus).values():
        extra = ["-o", tmp_path / "model"] if command == "train" else ["--model", model]
        result = run(command, path, *extra)
        assert_one_line_error(result, fragment)
    assert not (tmp_path / "model").exists()


def test_non_utf8_on_standard_input_names_the_offset(model):
    result = run("score", "-", "--model", model, "-j", "1", stdin=b"text\nall good\ncaf\xe9 closed\n")
    assert_one_line_error(result, "standard input is not valid utf-8", "byte offset 17 (line 3)")


# -- output paths ------------------------------------------------------------------------------


def _bad_outputs(tmp_path, source):
    return {
        "the input": (source, "is the input file"),
        "a link to the input": (tmp_path / "link.csv", "is the input file"),
        "a folder": (tmp_path, "is a directory"),
        "under a missing folder": (tmp_path / "missing" / "out.csv", "does not exist"),
        "a virtual file system": (Path("/proc/objections-out.csv"), "is not writable"),
        "an unknown format": (tmp_path / "out.docx", "Cannot tell the format"),
    }


def test_bad_score_outputs_fail_before_any_work(tmp_path, notes):
    source = write_csv(tmp_path / "in.csv", ["text"], [[n] for n in notes])
    (tmp_path / "link.csv").symlink_to(source)
    before = source.read_bytes()
    for name, (output, fragment) in _bad_outputs(tmp_path, source).items():
        started = time.perf_counter()
        # A model that does not exist: the output is checked first, so the
        # error must be about the output (no model was loaded, nothing read).
        result = run("score", source, "-o", output, "--model", tmp_path / "no-model")
        assert_one_line_error(result, fragment)
        assert time.perf_counter() - started < 10, name
    assert source.read_bytes() == before
    assert leftovers(tmp_path, "in.csv", "link.csv") == []


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root may write anywhere")
def test_read_only_folder_fails_before_any_work(tmp_path, notes):
    source = write_csv(tmp_path / "in.csv", ["text"], [[n] for n in notes])
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        result = run("score", source, "-o", locked / "out.csv", "--model", tmp_path / "no-model")
        assert_one_line_error(result, "is not writable")
    finally:
        locked.chmod(0o755)


def test_bad_model_outputs_fail_before_training(tmp_path, corpus):
    source = write_csv(tmp_path / "in.csv", ["text", "labels"], _labelled(corpus, 10))
    stranger = tmp_path / "photos"
    stranger.mkdir()
    (stranger / "cat.jpg").write_bytes(b"\xff\xd8\xff")
    (tmp_path / "notes.txt").write_text("keep me")
    cases = {
        "the input": (source, "is one of the input files"),
        "a file": (tmp_path / "notes.txt", "is a file"),
        "a folder of other files": (stranger, "holds other files"),
        "under a missing folder": (tmp_path / "missing" / "model", "does not exist"),
        "a virtual file system": (Path("/proc/objections-model"), "is not writable"),
    }
    for name, (output, fragment) in cases.items():
        started = time.perf_counter()
        result = run("train", source, "-o", output)
        assert_one_line_error(result, fragment)
        assert time.perf_counter() - started < 10, name
    assert (stranger / "cat.jpg").exists()
    assert leftovers(tmp_path, "in.csv", "photos", "notes.txt") == []
    assert (tmp_path / "notes.txt").read_text() == "keep me"


@pytest.mark.skipif(resource is None, reason="needs POSIX resource limits")
def test_a_full_disk_while_writing_is_one_line_and_leaves_nothing(tmp_path, small_model_dir, notes):
    source = write_csv(tmp_path / "in.csv", ["id", "text"], [[i, notes[i % len(notes)]] for i in range(2000)])
    limit = 48 * 1024  # the output outgrows this after a few chunks: the "disk" is full

    def small_disk():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    command = ["score", source, "-o", tmp_path / "out.csv", "--model", small_model_dir, "-j", "1"]
    done = subprocess.run(
        [sys.executable, "-m", "objections", *map(str, command), "--chunk-size", "200"],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=small_disk,
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: Cannot write"), done.stderr
    assert "out.csv" in lines[0] and "File too large" in lines[0]
    assert leftovers(tmp_path, "in.csv") == []


# -- TableWriter: chunks whose columns differ -----------------------------------------------------


def test_writer_aligns_later_chunks_and_refuses_new_columns(tmp_path):
    out = tmp_path / "out.csv"
    with TableWriter(out) as writer:
        writer.write(pd.DataFrame({"a": ["1"], "b": ["x\ry"]}))
        writer.write(pd.DataFrame({"b": ["q"], "a": ["2"]}))
        writer.write(pd.DataFrame({"a": ["3"]}))
    back = read_table(out)
    assert back.values.tolist() == [["1", "x\ry"], ["2", "q"], ["3", ""]]
    with pytest.raises(InputError, match="'c' that the first rows lack"):
        with TableWriter(tmp_path / "new.csv") as writer:
            writer.write(pd.DataFrame({"a": ["1"]}))
            writer.write(pd.DataFrame({"a": ["2"], "c": ["3"]}))
    assert leftovers(tmp_path, "out.csv") == []
    with TableWriter(tmp_path / "new.jsonl") as writer:
        writer.write(pd.DataFrame({"a": ["1"]}))
        writer.write(pd.DataFrame({"a": ["2"], "c": ["3"]}))
    lines = (tmp_path / "new.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [{"a": "1"}, {"a": "2", "c": "3"}]


def test_jsonl_keys_that_vary_between_chunks_keep_their_columns(tmp_path):
    source = tmp_path / "in.jsonl"
    records = [{"id": 1, "text": "a"}, {"text": "b", "id": 2}, {"id": 3}, {"id": 4, "text": "d", "rep": "x"}]
    source.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    chunks = list(iter_chunks(source, chunksize=1))
    assert [list(c.columns) for c in chunks] == [["id", "text"]] * 3 + [["id", "text", "rep"]]
    assert [c.index[0] for c in chunks] == [0, 1, 2, 3]


# -- model files --------------------------------------------------------------------------------


def _model_copy(small_model_dir, tmp_path, name="model"):
    path = tmp_path / name
    shutil.copytree(small_model_dir, path)
    return path


def _reseal(path):
    """Write the checksum of the (replaced) model file into the metadata, as an attacker would."""
    meta = json.loads((path / "metadata.json").read_text())
    meta["sha256"] = hashlib.sha256((path / "model.skops").read_bytes()).hexdigest()
    (path / "metadata.json").write_text(json.dumps(meta))


class _Payload:
    """Pickling this runs ``touch MARKER`` when the pickle is loaded."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


def test_pickle_with_reduce_payload_is_refused_unrun(small_model_dir, tmp_path):
    control = tmp_path / "control-marker"
    pickle.loads(pickle.dumps(_Payload(control)))
    assert control.exists(), "the payload really runs when the file is unpickled"

    marker = tmp_path / "marker"
    path = _model_copy(small_model_dir, tmp_path)
    (path / "model.skops").write_bytes(pickle.dumps(_Payload(marker)))
    _reseal(path)
    with pytest.raises(ModelError, match="damaged or not a model file"):
        load(path)
    result = run("score", "-", "--model", path, stdin="text\nbudget frozen\n")
    assert_one_line_error(result, "damaged or not a model file")
    assert not marker.exists()


class MarkerDict(collections.OrderedDict):
    """An ordinary-looking dict whose filling runs code (as loading a dict fills it)."""

    def __setitem__(self, key, value):
        if key == "marker":
            Path(value).touch()
        super().__setitem__(key, value)


def _marker_dict(marker):
    evil = MarkerDict()
    collections.OrderedDict.__setitem__(evil, "marker", str(marker))  # without running it here
    return evil


def test_skops_file_with_untrusted_types_is_refused_unrun(small_model_dir, tmp_path):
    control = tmp_path / "control-marker"
    sio.dump(_marker_dict(control), tmp_path / "alone.skops")
    assert not control.exists()
    sio.load(tmp_path / "alone.skops", trusted=sio.get_untrusted_types(file=tmp_path / "alone.skops"))
    assert control.exists(), "the payload really runs when its type is trusted"

    marker = tmp_path / "marker"
    path = _model_copy(small_model_dir, tmp_path)
    clf = load(path)
    clf.extra_ = _marker_dict(marker)
    clf.hook_ = operator.attrgetter("__class__")
    sio.dump(clf, path / "model.skops")
    _reseal(path)
    assert f"{MarkerDict.__module__}.MarkerDict" in sio.get_untrusted_types(file=path / "model.skops")

    with pytest.raises(ModelError) as caught:
        load(path)
    message = str(caught.value)
    assert f"{MarkerDict.__module__}.MarkerDict" in message
    assert "operator.attrgetter" in message
    assert "refused" in message
    result = run("score", "-", "--model", path, stdin="text\nbudget frozen\n")
    assert_one_line_error(result, "MarkerDict", "refused")
    assert not marker.exists()
    # The trusted list stays short and holds only this package's own types.
    assert all(t.startswith("objections.") for t in TRUSTED_TYPES)
    assert not any("MarkerDict" in t or "operator" in t for t in TRUSTED_TYPES)


@pytest.mark.parametrize("damage", ["truncated", "truncated and resealed", "one byte changed"])
def test_damaged_model_files_give_a_clear_error(small_model_dir, tmp_path, damage):
    path = _model_copy(small_model_dir, tmp_path)
    model_file = path / "model.skops"
    data = model_file.read_bytes()
    if damage.startswith("truncated"):
        model_file.write_bytes(data[: len(data) // 3])
    else:
        middle = len(data) // 2
        model_file.write_bytes(data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :])
    expected = "damaged or not a model file" if "resealed" in damage else "does not match the checksum"
    if "resealed" in damage:
        _reseal(path)
    result = run("score", "-", "--model", path, stdin="text\nbudget frozen\n")
    assert_one_line_error(result, expected)


@pytest.mark.parametrize(
    "change, fragment",
    [
        ({"versions": {"scikit-learn": "0.24.2"}}, "scikit-learn 0.24.2 (installed:"),
        ({"versions": {"skops": "0.9.0", "spacy": "2.3.0"}}, "spacy 2.3.0"),
        ({"format_version": 99}, "format version 99"),
    ],
)
def test_models_from_incompatible_versions_are_refused(small_model_dir, tmp_path, change, fragment):
    path = _model_copy(small_model_dir, tmp_path)
    meta = json.loads((path / "metadata.json").read_text())
    for key, value in change.items():
        meta[key] = {**meta[key], **value} if isinstance(value, dict) else value
    (path / "metadata.json").write_text(json.dumps(meta))
    result = run("score", "-", "--model", path, stdin="text\nbudget frozen\n")
    line = assert_one_line_error(result, fragment)
    assert "Retrain" in line or "retrain" in line


def test_model_paths_of_the_wrong_shape(small_model_dir, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    half = _model_copy(small_model_dir, tmp_path, "half")
    (half / "metadata.json").unlink()
    bad_meta = _model_copy(small_model_dir, tmp_path, "bad-meta")
    (bad_meta / "metadata.json").write_text("{not json")
    no_sum = _model_copy(small_model_dir, tmp_path, "no-sum")
    meta = json.loads((no_sum / "metadata.json").read_text())
    del meta["sha256"]
    (no_sum / "metadata.json").write_text(json.dumps(meta))
    a_file = tmp_path / "model.txt"
    a_file.write_text("hello")
    cases = {
        tmp_path / "does-not-exist": "the path does not exist",
        empty: "is not a model directory",
        half: "is not a model directory",
        bad_meta: "is not valid JSON",
        no_sum: "lacks versions or checksum",
        a_file: "is a file",
    }
    for path, fragment in cases.items():
        result = run("score", "-", "--model", path, stdin="text\nbudget frozen\n")
        assert_one_line_error(result, fragment)
        result = run("info", "--model", path)
        assert result.exit_code == 1 and fragment in result.stderr


def test_the_intact_copy_still_loads(small_model_dir, small_model, tmp_path):
    # The model tests above damage copies; the same copy, untouched, works.
    path = _model_copy(small_model_dir, tmp_path)
    texts = ["budget frozen after the merger", ""]
    assert load(path).tag(texts) == small_model.tag(texts)
    assert isinstance(objections.load(path), objections.ObjectionClassifier)
