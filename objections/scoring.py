"""Batch scoring of tables: streaming, in order, optionally across processes."""

from __future__ import annotations

import gc
import multiprocessing
import os
import sys
import time
import warnings
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .classifier import note_flag
from .io import TableWriter, check_output_path, iter_chunks, resolve_text_column
from .labels import LABELS

__all__ = ["RESULT_COLUMNS", "score_frame", "score_file", "ScoreStats"]

#: Columns ``score`` adds to every row, in this order.
RESULT_COLUMNS = ["primary", "labels"] + [f"score_{label}" for label in LABELS] + ["evidence", "note"]


def score_texts(clf, texts):
    """Result columns for a sequence of texts, as a dict of lists."""
    texts = list(texts)
    flags = [note_flag(t) for t in texts]
    results = clf.tag_notes(clf.process(texts)) if texts else []
    columns = {name: [] for name in RESULT_COLUMNS}
    for result, flag in zip(results, flags):
        columns["primary"].append(result["primary"])
        columns["labels"].append(";".join(result["labels"]))
        for label in LABELS:
            columns[f"score_{label}"].append(round(result["scores"][label], 4))
        columns["evidence"].append(result["evidence"])
        columns["note"].append(flag)
    return columns


def score_frame(clf, frame, text_col="text"):
    """Score a DataFrame: its columns, unchanged and in order, plus the results.

    Existing columns named like a result column are replaced in place
    (so a scored file can be scored again with another model).

    Examples
    --------
    >>> import objections, pandas as pd
    >>> df = pd.DataFrame({"id": ["a1"], "text": ["Lost: budget frozen after the merger"]})
    >>> score_frame(objections.load(), df)[["id", "primary"]].values.tolist()
    [['a1', 'market']]
    """
    resolve_text_column(frame.columns, text_col, "the table")
    columns = score_texts(clf, frame[text_col].tolist())
    out = frame.copy()
    for name in RESULT_COLUMNS:
        out[name] = columns[name]
    return out


# -- worker processes ---------------------------------------------------------

_WORKER_CLF = None


def _init_worker(clf):
    global _WORKER_CLF
    _WORKER_CLF = clf
    # Build the spaCy pipeline now, not inside the first task.
    clf.process(["warm up"])


def _score_in_worker(texts):
    # Texts in, result columns out: the input's other columns never cross
    # the process boundary.
    return score_texts(_WORKER_CLF, texts)


def available_cores():
    """Cores this process may run on (fewer than the machine's under a CPU limit)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def _pool_context():
    # fork shares the loaded model with the workers copy-on-write: no
    # pickling, no reloading, and they start in milliseconds.  Elsewhere
    # (macOS, Windows) the platform default is the safe choice.
    if sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return None


@dataclass
class ScoreStats:
    """What a scoring run did."""

    rows: int = 0
    empty: int = 0
    truncated: int = 0
    duplicate_ids: int = 0
    bad_lines: int = 0
    seconds: float = 0.0
    labels: dict = field(default_factory=dict)


def _id_hashes(values):
    return pd.util.hash_array(np.asarray(values, dtype=object).astype(str))


def score_file(
    clf,
    input,
    output="-",
    *,
    text_col="text",
    id_col=None,
    jobs=1,
    batch_size=256,
    chunksize=2000,
    encoding="utf-8",
    on_bad_lines="error",
    in_format=None,
    out_format=None,
    progress=None,
):
    """Score a table file and write the scored table.

    Reads ``input`` in chunks, scores each (across ``jobs`` processes) and
    appends it to ``output`` in input order, so memory does not grow with
    the file.  The output appears under its name only when complete: on an
    error or interrupt nothing is left under that name, and the input is
    never written to.

    Parameters
    ----------
    clf : ObjectionClassifier
    input, output : str or Path
        Files (format from the extension) or ``"-"`` for CSV on
        stdin/stdout.
    text_col : str
        Column holding the notes.
    id_col : str, optional
        Column of ids: checked to exist, duplicates counted.
    jobs : int
        Processes for the spaCy work; 1 scores in this process, ``-1`` or
        ``None`` uses every available core.  A file of a single chunk is
        always scored in this process (starting workers would cost more).
    batch_size : int
        Texts per ``nlp.pipe`` batch.
    chunksize : int
        Rows read, scored and written at a time (and sent to a worker).
    progress : callable, optional
        Called as ``progress(rows_done, read_stats)`` after each chunk is
        written; ``read_stats`` holds ``bytes_read`` and ``bytes_total``
        (text formats) or ``rows_total`` (Parquet).

    Returns
    -------
    ScoreStats

    Examples
    --------
    >>> import objections, tempfile
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())
    >>> notes, scored = folder / "notes.csv", folder / "scored.csv"
    >>> _ = notes.write_text("id,text\\n7,budget frozen after the merger\\n")
    >>> score_file(objections.load(), notes, scored).rows
    1
    >>> scored.read_text().splitlines()[0]
    'id,text,primary,labels,score_pitch,score_product_fit,score_market,score_none,evidence,note'
    """
    check_output_path(output, [input])
    if jobs is None or jobs < 1:
        jobs = available_cores()
    stats = ScoreStats()
    read_stats = {}
    started = time.perf_counter()
    id_hashes = []
    label_counts = dict.fromkeys(LABELS, 0)
    chunks = iter_chunks(input, in_format, chunksize, encoding, on_bad_lines, read_stats)

    def checked(chunks):
        for chunk in chunks:
            resolve_text_column(chunk.columns, text_col, input)
            if id_col is not None:
                resolve_text_column(chunk.columns, id_col, input, "id")
                id_hashes.append(_id_hashes(chunk[id_col].tolist()))
            yield chunk

    def account(chunk, columns):
        out = chunk.copy()
        for name in RESULT_COLUMNS:
            out[name] = columns[name]
        writer.write(out)
        stats.rows += len(out)
        notes = columns["note"]
        stats.empty += notes.count("empty")
        stats.truncated += notes.count("truncated")
        for p in columns["primary"]:
            label_counts[p] += 1
        if progress is not None:
            progress(stats.rows, read_stats)

    saved_batch_size = clf.batch_size
    clf.batch_size = batch_size
    try:
        with TableWriter(output, out_format) as writer:
            source = checked(chunks)
            first = next(source, None)
            second = next(source, None) if first is not None and jobs > 1 else None
            if first is None:
                # Empty input: an empty output with only the result header when
                # the input had none either.
                writer.write(pd.DataFrame(columns=RESULT_COLUMNS))
            elif second is None:
                account(first, score_texts(clf, first[text_col].tolist()))
                for chunk in source:
                    account(chunk, score_texts(clf, chunk[text_col].tolist()))
            else:
                _score_parallel(clf, [first, second], source, text_col, jobs, account)
    finally:
        clf.batch_size = saved_batch_size
    stats.bad_lines = read_stats.get("bad_lines", 0)
    stats.seconds = time.perf_counter() - started
    stats.labels = label_counts
    if id_hashes:
        hashes = np.concatenate(id_hashes)
        stats.duplicate_ids = int(len(hashes) - len(np.unique(hashes)))
    return stats


def _score_parallel(clf, head, source, text_col, jobs, account):
    """Score chunks across ``jobs`` worker processes, writing them in input order."""
    freeze = _pool_context() is not None and not gc.get_freeze_count()
    if _pool_context() is not None:
        # Forked workers inherit what the parent has built: make the spaCy
        # pipeline (and its lemma tables) once here rather than once per
        # worker.
        clf.process(["warm up"])
    if freeze:
        # Move everything loaded so far out of the garbage collector's
        # reach, so collections in the workers do not touch (and so copy)
        # the shared pages.  Left alone when the host program froze
        # objects itself.
        gc.freeze()
    try:
        _run_pool(clf, head, source, text_col, jobs, account)
    finally:
        if freeze:
            gc.unfreeze()


def _run_pool(clf, head, source, text_col, jobs, account):
    pending = deque()
    with warnings.catch_warnings():
        # Python 3.12+ warns that fork() in a process with threads may
        # deadlock; the threads here (pandas, pyarrow) hold no lock the
        # workers take.
        warnings.filterwarnings("ignore", message=".*fork.*", category=DeprecationWarning)
        executor = ProcessPoolExecutor(
            max_workers=jobs, mp_context=_pool_context(), initializer=_init_worker, initargs=(clf,)
        )
        try:
            queued = iter(head)
            chunk = next(queued)
            while chunk is not None or pending:
                # Keep every worker busy with one queued chunk to spare, but no
                # more: memory stays flat however long the file is.
                while chunk is not None and len(pending) < 2 * jobs:
                    pending.append((chunk, executor.submit(_score_in_worker, chunk[text_col].tolist())))
                    chunk = next(queued, None)
                    if chunk is None:
                        chunk = next(source, None)
                done_chunk, future = pending.popleft()
                account(done_chunk, future.result())
        except BaseException:
            # An error or Ctrl-C: stop the workers now rather than letting
            # them finish their queued chunks.
            workers = list((getattr(executor, "_processes", None) or {}).values())
            for _, future in pending:
                future.cancel()
            executor.shutdown(wait=False, cancel_futures=True)
            for proc in workers:
                proc.terminate()
            for proc in workers:
                proc.join(5)
                if proc.is_alive():
                    proc.kill()
                    proc.join()
            raise
        executor.shutdown(wait=True)
