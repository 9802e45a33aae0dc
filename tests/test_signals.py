"""Ctrl-C and SIGTERM in the middle of real ``objections`` runs.

Each test starts ``python -m objections`` as a subprocess, waits until it
is demonstrably mid-run, sends the signal, and checks what a user would
find: exit status 130, one line on stderr, and nothing under the output
name (no partial file, no temporary file, no half-written model).
"""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/status").exists(), reason="reads a process's signal handlers from /proc"
)

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "data" / "corpus.jsonl"
SIGNALS = [signal.SIGINT, signal.SIGTERM]
INTERRUPTED = "Interrupted: nothing was written under the output name."


def _default_sigint():
    # A child of a background job starts with SIGINT ignored, and Python
    # then keeps ignoring it; a user's terminal delivers it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(args, cwd):
    env = dict(os.environ, OBJECTIONS_CONFIG=str(cwd / "no-config.json"), PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [sys.executable, "-m", "objections", *map(str, args)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )


def command_running(pid):
    """True once the command's own SIGTERM handler is installed: imports are done, work has begun."""
    status = Path(f"/proc/{pid}/status").read_text()
    caught = next(line for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(caught.split()[1], 16) & (1 << (signal.SIGTERM - 1)))


def wait_until(condition, proc, timeout=240):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the run ended before the signal (exit {proc.returncode}): {err[-2000:]}")
        if condition():
            return
        time.sleep(0.02)
    proc.kill()
    proc.communicate()
    pytest.fail("the run never reached the point to interrupt")


def interrupt(proc, signum):
    assert proc.poll() is None, "still running when the signal is sent"
    proc.send_signal(signum)
    try:
        out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("the run did not stop after the signal")
    return proc.returncode, out, err


@pytest.fixture(scope="module")
def big_table(corpus):
    """20,000 rows of real notes, as CSV text: long enough to be caught mid-file."""
    texts = [row["text"] for row in corpus]
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(["id", "text"])
    for i in range(20_000):
        writer.writerow([f"n{i:05d}", texts[i % len(texts)]])
    return buffer.getvalue()


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_interrupted_score_leaves_no_output(tmp_path, big_table, small_model_dir, signum):
    source = tmp_path / "notes.csv"
    source.write_text(big_table, encoding="utf-8", newline="")
    output = tmp_path / "scored.csv"
    proc = start(
        ["score", source, "-o", output, "--model", small_model_dir, "--jobs", "1", "--chunk-size", "100"],
        tmp_path,
    )

    def mid_file():
        # The temporary output exists and has rows in it: the run is part-way.
        temps = list(tmp_path.glob(".scored.csv.*.tmp"))
        return bool(temps) and temps[0].stat().st_size > 0

    wait_until(mid_file, proc)
    code, out, err = interrupt(proc, signum)
    assert code == 130
    assert err.strip().splitlines() == [INTERRUPTED], err
    assert out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == [source.name]


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_interrupted_train_leaves_no_model(tmp_path, signum):
    output = tmp_path / "model"
    proc = start(["train", CORPUS, "--split-col", "split", "-o", output], tmp_path)
    wait_until(lambda: command_running(proc.pid), proc)
    time.sleep(1.0)  # well into reading and processing the 1,800 training notes
    code, out, err = interrupt(proc, signum)
    assert code == 130
    assert err.strip().splitlines() == [INTERRUPTED], err
    assert out == ""
    assert list(tmp_path.iterdir()) == [], "no model, no temporary model folder"
