"""Batch scoring of files: chunks, worker processes, atomic output, progress."""

from __future__ import annotations

import csv
import multiprocessing
import os
import pty
import select
import subprocess
import sys

import pandas as pd
import pytest
from click.testing import CliRunner

from objections import scoring
from objections.cli import cli
from objections.errors import InputError
from objections.scoring import RESULT_COLUMNS, score_file, score_frame

NOTES = [
    "Budget frozen until Q3 after the acquisition.",
    "No SAML SSO, so security vetoed it.",
    "Champion liked it but the CFO never saw why it matters.",
    "Moved the demo to Thursday, sending the agenda.",
    "Price wasn't the issue; they went with Calloway because of row-level permissions.",
    "Rep: any blockers?\nProspect: our board paused all new vendors this year.",
    "",
    "Lost. They don't see the value over their spreadsheets.",
    "Hiring freeze across the company, revisit next fiscal year.",
]


def write_notes(path, n=None):
    """A CSV of n notes (all of NOTES by default) whose ids keep leading zeros."""
    n = len(NOTES) if n is None else n
    frame = pd.DataFrame(
        {"id": [f"{i:04d}" for i in range(n)], "text": [NOTES[i % len(NOTES)] for i in range(n)]}
    )
    frame.to_csv(path, index=False)
    return frame


def read_csv(path):
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def leftovers(folder, keep):
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


# -- chunk boundaries ------------------------------------------------------------


@pytest.mark.parametrize("chunksize", [1, 4, 9, 50])
def test_chunks_keep_rows_ids_and_results(small_model, tmp_path, chunksize):
    src, out = tmp_path / "notes.csv", tmp_path / "scored.csv"
    frame = write_notes(src)
    seen = []
    stats = score_file(small_model, src, out, chunksize=chunksize, progress=lambda rows, _: seen.append(rows))

    scored = read_csv(out)
    assert stats.rows == len(frame) == len(scored)
    assert scored["id"].tolist() == frame["id"].tolist()  # order and "0007"-style ids kept
    assert scored["text"].tolist() == frame["text"].tolist()
    assert list(scored.columns) == ["id", "text"] + RESULT_COLUMNS
    # A chunk boundary changes nothing: same results as scoring the table whole.
    whole = score_frame(small_model, frame)
    assert scored["primary"].tolist() == whole["primary"].tolist()
    assert scored["evidence"].tolist() == whole["evidence"].tolist()
    for column in ("score_pitch", "score_market"):
        assert scored[column].astype(float).tolist() == whole[column].tolist()
    # One progress call per chunk, the last (partial) one included.
    expected = list(range(chunksize, len(frame), chunksize)) + [len(frame)]
    assert seen == expected


def test_parquet_row_groups_and_jsonl_lines_keep_order(small_model, tmp_path):
    frame = pd.DataFrame({"id": [f"{i:04d}" for i in range(11)], "text": (NOTES * 2)[:11]})
    frame.to_parquet(tmp_path / "notes.parquet", row_group_size=4)
    frame.to_json(tmp_path / "notes.jsonl", orient="records", lines=True)
    totals = []
    score_file(
        small_model,
        tmp_path / "notes.parquet",
        tmp_path / "out.parquet",
        chunksize=3,
        progress=lambda rows, read: totals.append((rows, read.get("rows_total"))),
    )
    score_file(small_model, tmp_path / "notes.jsonl", tmp_path / "out.jsonl", chunksize=5)

    from_parquet = pd.read_parquet(tmp_path / "out.parquet")
    from_jsonl = pd.read_json(tmp_path / "out.jsonl", lines=True, dtype={"id": str})
    assert from_parquet["id"].tolist() == frame["id"].tolist()
    assert from_jsonl["id"].tolist() == frame["id"].tolist()
    assert from_parquet["primary"].tolist() == from_jsonl["primary"].tolist()
    # Parquet progress counts rows against the known total.
    assert totals[-1] == (11, 11)


def test_empty_file_gives_only_the_result_header(small_model, tmp_path):
    src, out = tmp_path / "empty.csv", tmp_path / "scored.csv"
    src.write_bytes(b"")
    stats = score_file(small_model, src, out, jobs=2)
    assert stats.rows == 0
    assert out.read_text().strip() == ",".join(RESULT_COLUMNS)


def test_header_only_file_keeps_its_columns(small_model, tmp_path):
    src, out = tmp_path / "header.csv", tmp_path / "scored.csv"
    src.write_text("deal_id,text,owner\n")
    stats = score_file(small_model, src, out, jobs=2)
    assert stats.rows == 0
    assert out.read_text().splitlines() == [",".join(["deal_id", "text", "owner"] + RESULT_COLUMNS)]


# -- worker processes ----------------------------------------------------------------


class RecordingPool(scoring.ProcessPoolExecutor):
    """The real process pool, remembering that it was started."""

    started = 0

    def __init__(self, *args, **kwargs):
        type(self).started += 1
        super().__init__(*args, **kwargs)


def test_jobs_2_writes_the_same_bytes_as_jobs_1(small_model, tmp_path, monkeypatch):
    src = tmp_path / "notes.csv"
    write_notes(src, n=23)
    monkeypatch.setattr(scoring, "ProcessPoolExecutor", RecordingPool)
    monkeypatch.setattr(RecordingPool, "started", 0)
    score_file(small_model, src, tmp_path / "one.csv", jobs=1, chunksize=4)
    assert RecordingPool.started == 0
    stats = score_file(small_model, src, tmp_path / "two.csv", jobs=2, chunksize=4)
    assert RecordingPool.started == 1  # six chunks went to two workers
    assert stats.rows == 23
    assert (tmp_path / "two.csv").read_bytes() == (tmp_path / "one.csv").read_bytes()
    assert multiprocessing.active_children() == []


def test_a_single_chunk_is_scored_without_workers(small_model, tmp_path, monkeypatch):
    src = tmp_path / "notes.csv"
    write_notes(src)
    monkeypatch.setattr(scoring, "ProcessPoolExecutor", RecordingPool)
    monkeypatch.setattr(RecordingPool, "started", 0)
    score_file(small_model, src, tmp_path / "out.csv", jobs=2, chunksize=100)
    assert RecordingPool.started == 0


def test_batch_size_is_used_and_given_back(small_model, tmp_path, monkeypatch):
    src = tmp_path / "notes.csv"
    write_notes(src)
    used = []
    real = scoring.score_texts
    monkeypatch.setattr(
        scoring, "score_texts", lambda clf, texts: used.append(clf.batch_size) or real(clf, texts)
    )
    before = small_model.batch_size
    score_file(small_model, src, tmp_path / "out.csv", batch_size=3)
    assert used == [3]
    assert small_model.batch_size == before


# -- atomic output ---------------------------------------------------------------------


def fail_on_second_chunk(exc_type, tmp_path, out_name):
    """A score_texts that raises on its second call, while the output is half written."""
    real = scoring.score_texts
    calls = []

    def score_texts(clf, texts):
        calls.append(len(texts))
        if len(calls) == 2:
            assert len(list(tmp_path.glob(f".{out_name}.*.tmp"))) == 1, "no temporary file beside the output"
            raise exc_type("injected failure")
        return real(clf, texts)

    return score_texts, calls


@pytest.mark.parametrize("exc_type", [RuntimeError, KeyboardInterrupt])
def test_failure_mid_file_leaves_nothing_under_the_output_name(small_model, tmp_path, monkeypatch, exc_type):
    src, out = tmp_path / "notes.csv", tmp_path / "scored.csv"
    write_notes(src, n=12)
    before = src.read_bytes()
    failing, _ = fail_on_second_chunk(exc_type, tmp_path, out.name)
    monkeypatch.setattr(scoring, "score_texts", failing)
    written = []
    with pytest.raises(exc_type, match="injected failure"):
        score_file(small_model, src, out, chunksize=5, progress=lambda rows, _: written.append(rows))
    assert written == [5]  # the first chunk went to the writer before the failure
    assert not out.exists()
    assert leftovers(tmp_path, {"notes.csv"}) == []  # no temporary file left either
    assert src.read_bytes() == before


def test_failure_mid_file_keeps_an_older_output_as_it_was(small_model, tmp_path, monkeypatch):
    src, out = tmp_path / "notes.csv", tmp_path / "scored.csv"
    write_notes(src, n=12)
    out.write_text("yesterday's results\n")
    failing, _ = fail_on_second_chunk(RuntimeError, tmp_path, out.name)
    monkeypatch.setattr(scoring, "score_texts", failing)
    with pytest.raises(RuntimeError):
        score_file(small_model, src, out, chunksize=5)
    assert out.read_text() == "yesterday's results\n"
    assert leftovers(tmp_path, {"notes.csv", "scored.csv"}) == []


def test_worker_failure_mid_file_leaves_nothing_and_stops_the_workers(small_model, tmp_path, monkeypatch):
    src, out = tmp_path / "notes.csv", tmp_path / "scored.csv"
    frame = write_notes(src, n=40)
    frame.loc[30, "text"] = "POISON"
    frame.to_csv(src, index=False)
    before = src.read_bytes()
    real = scoring.score_texts

    def score_texts(clf, texts):
        # Runs in the forked workers, which inherit this patch.
        if "POISON" in texts:
            raise ValueError("injected failure in a worker")
        return real(clf, texts)

    monkeypatch.setattr(scoring, "score_texts", score_texts)
    with pytest.raises(ValueError, match="injected failure in a worker"):
        score_file(small_model, src, out, jobs=2, chunksize=4)
    assert not out.exists()
    assert leftovers(tmp_path, {"notes.csv"}) == []
    assert src.read_bytes() == before
    assert multiprocessing.active_children() == []


def test_refuses_to_write_onto_the_input(small_model, small_model_dir, tmp_path, monkeypatch):
    src = tmp_path / "notes.csv"
    write_notes(src)
    before = src.read_bytes()
    with pytest.raises(InputError, match="is the input file"):
        score_file(small_model, src, src)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        cli, ["score", "notes.csv", "-o", "./notes.csv", "--model", str(small_model_dir)]
    )
    assert result.exit_code != 0
    assert "is the input file" in result.output
    assert src.read_bytes() == before
    assert leftovers(tmp_path, {"notes.csv"}) == []


# -- progress --------------------------------------------------------------------------


def test_text_progress_counts_bytes_up_to_the_file_size(small_model, tmp_path):
    src = tmp_path / "notes.csv"
    write_notes(src, n=30)
    reads = []
    score_file(
        small_model,
        src,
        tmp_path / "out.csv",
        chunksize=7,
        progress=lambda rows, read: reads.append((rows, read["bytes_read"], read["bytes_total"])),
    )
    assert [r for r, _, _ in reads] == [7, 14, 21, 28, 30]
    assert [b for _, b, _ in reads] == sorted(b for _, b, _ in reads)
    assert reads[-1][1] == reads[-1][2] == src.stat().st_size


def test_no_progress_bar_when_stderr_is_not_a_terminal(small_model_dir, tmp_path):
    src = tmp_path / "notes.csv"
    write_notes(src)
    result = CliRunner().invoke(
        cli, ["score", str(src), "-o", str(tmp_path / "out.csv"), "--model", str(small_model_dir)]
    )
    assert result.exit_code == 0, result.output
    assert "scoring" not in result.output and "rows/s" in result.output  # the summary only
    quiet = CliRunner().invoke(
        cli, ["score", str(src), "-o", str(tmp_path / "out2.csv"), "--model", str(small_model_dir), "--quiet"]
    )
    assert quiet.exit_code == 0 and quiet.output == ""


def test_cli_on_a_terminal_shows_progress_and_matches_jobs_1(small_model, small_model_dir, tmp_path):
    """The installed command with two workers, stderr on a pseudo-terminal."""
    src = tmp_path / "notes.csv"
    write_notes(src, n=25)
    score_file(small_model, src, tmp_path / "one.csv", jobs=1, chunksize=6)
    main, child = pty.openpty()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "objections",
            "score",
            str(src),
            "-o",
            str(tmp_path / "two.csv"),
            "--jobs",
            "2",
            "--chunk-size",
            "6",
            "--model",
            str(small_model_dir),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=child,
    )
    os.close(child)
    shown = b""
    while True:
        ready, _, _ = select.select([main], [], [], 300)
        if not ready:
            break
        try:
            data = os.read(main, 4096)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        shown += data
    os.close(main)
    assert proc.wait(timeout=300) == 0, shown.decode(errors="replace")
    text = shown.decode(errors="replace")
    assert "scoring" in text and "25 rows" in text and "rows/s" in text and "100%" in text
    assert (tmp_path / "two.csv").read_bytes() == (tmp_path / "one.csv").read_bytes()
    with open(tmp_path / "two.csv", newline="", encoding="utf-8") as f:
        assert [row[0] for row in csv.reader(f)][1:] == [f"{i:04d}" for i in range(25)]
