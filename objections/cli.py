"""The ``objections`` command line: thin commands over the library."""

from __future__ import annotations

import functools
import json
import os
import signal
import sys
import warnings

import click

from . import __version__
from .errors import ObjectionsError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _to_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt


def handle_errors(func):
    """Turn library errors into one-line messages and interrupts into exit 130."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        previous = signal.getsignal(signal.SIGTERM)
        try:
            signal.signal(signal.SIGTERM, _to_keyboard_interrupt)
        except ValueError:  # not the main thread (e.g. some test runners)
            previous = None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("default")
                warnings.showwarning = _show_warning
                return func(*args, **kwargs)
        except ObjectionsError as exc:
            raise click.ClickException(str(exc)) from exc
        except KeyboardInterrupt:
            click.echo("Interrupted: nothing was written under the output name.", err=True)
            sys.exit(130)
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    return wrapper


def _show_warning(message, category, filename, lineno, file=None, line=None):
    click.echo(f"Warning: {message}", err=True)


def model_option(func):
    return click.option(
        "--model", "-m", "model", default=None, metavar="MODEL",
        help="Model directory (default: $OBJECTIONS_MODEL, the promoted model, or the shipped one).",
    )(func)


def text_col_option(func):
    return click.option("--text-col", default="text", show_default=True, help="Column holding the notes.")(func)


def input_options(func):
    func = click.option("--encoding", default="utf-8", show_default=True,
                        help="Encoding of CSV/TSV/JSONL input, e.g. latin-1 or cp1252.")(func)
    func = click.option("--on-bad-lines", type=click.Choice(["error", "skip"]), default="error",
                        show_default=True,
                        help="CSV rows with the wrong number of fields: stop with an error, or skip and count them.")(func)
    return func


def quiet_option(func):
    return click.option("--quiet", "-q", is_flag=True, help="No progress bar or summary on stderr.")(func)


def _load(model):
    from .persist import load

    return load(model)


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, prog_name="objections")
def cli():
    """Tag sales notes with why the buyer said no: pitch, product_fit, market or none.

    \b
    Example:
        objections score notes.csv -o scored.csv
    """


@cli.command(context_settings=CONTEXT)
@click.argument("input", type=click.Path(allow_dash=True))
@click.option("--output", "-o", default="-", show_default=True, type=click.Path(allow_dash=True),
              help="Output file; its extension picks the format.")
@model_option
@text_col_option
@click.option("--id-col", default=None, help="Id column: must exist; duplicate ids are counted and reported.")
@click.option("--jobs", "-j", type=int, default=-1, show_default=True,
              help="Processes for the language work; -1 uses every core.")
@click.option("--batch-size", type=click.IntRange(1), default=256, show_default=True, help="Texts per spaCy batch.")
@click.option("--chunk-size", type=click.IntRange(1), default=2000, show_default=True,
              help="Rows read, scored and written at a time.")
@input_options
@quiet_option
@handle_errors
def score(input, output, model, text_col, id_col, jobs, batch_size, chunk_size, encoding, on_bad_lines, quiet):
    """Score a table of notes and write it back with the results.

    INPUT and the output may be CSV, TSV, JSONL, Parquet or XLSX (by
    extension), or - for CSV on stdin/stdout. Every input column is kept, in
    order; added are primary, labels, score_pitch, score_product_fit,
    score_market, score_none, evidence and note (empty/truncated).

    Text formats and Parquet are streamed, so files larger than memory work.
    XLSX cannot be streamed: it is read whole and limited to 50 MB.

    The output is written to a temporary file and renamed when complete, so
    an interrupted run leaves nothing under the output name.

    \b
    Example:
        objections score calls.parquet -o scored.parquet --text-col notes --id-col deal_id
    """
    from .io import check_output_path
    from .scoring import score_file

    check_output_path(output, [input])
    clf = _load(model)
    show = not quiet and sys.stderr.isatty()
    bar = None
    state = {"last": 0}

    def progress(rows, read_stats):
        nonlocal bar
        if not show:
            return
        if bar is None:
            total = read_stats.get("rows_total") or read_stats.get("bytes_total")
            unit = "rows" if read_stats.get("rows_total") else "bytes"
            state["unit"] = unit
            bar = click.progressbar(length=total or 0, file=sys.stderr, label="scoring", show_eta=True,
                                    item_show_func=lambda _: f"{rows} rows")
            bar.__enter__()
        now = rows if state["unit"] == "rows" else read_stats.get("bytes_read", 0)
        bar.update(max(now - state["last"], 0), current_item=rows)
        state["last"] = now

    try:
        stats = score_file(
            clf, input, output, text_col=text_col, id_col=id_col, jobs=jobs, batch_size=batch_size,
            chunksize=chunk_size, encoding=encoding, on_bad_lines=on_bad_lines, progress=progress,
        )
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    if stats.bad_lines:
        click.echo(f"Skipped {stats.bad_lines} malformed lines.", err=True)
    if stats.duplicate_ids:
        click.echo(f"Warning: {stats.duplicate_ids} rows repeat an id already seen in {id_col!r}; all were scored.",
                   err=True)
    if not quiet:
        counts = ", ".join(f"{k} {v}" for k, v in stats.labels.items())
        rate = stats.rows / stats.seconds if stats.seconds else 0
        flags = f"; {stats.empty} empty, {stats.truncated} truncated" if stats.empty or stats.truncated else ""
        click.echo(f"Scored {stats.rows} rows in {stats.seconds:.1f}s ({rate:.0f} rows/s): {counts}{flags}.",
                   err=True)


@cli.command(context_settings=CONTEXT)
@click.argument("data", nargs=-1, required=True, type=click.Path())
@click.option("--output", "-o", required=True, type=click.Path(), help="Model directory to write.")
@text_col_option
@click.option("--label-col", default="labels", show_default=True, help="Column holding the labels.")
@click.option("--split-col", default=None,
              help="Train only on rows whose value in this column is 'train' (e.g. split).")
@click.option("--spacy-model", default=None,
              help="An installed spaCy pipeline or saved pipeline path to use instead of blank English.")
@click.option("--cv", type=click.IntRange(2), default=5, show_default=True, help="Cross-validation folds.")
@click.option("--no-cv-report", is_flag=True, help="Skip the cross-validated metrics (faster).")
@click.option("--encoding", default="utf-8", show_default=True, help="Encoding of text input files.")
@quiet_option
@handle_errors
def train(data, output, text_col, label_col, split_col, spacy_model, cv, no_cv_report, encoding, quiet):
    """Train a model on labelled tables and save it with its model card.

    DATA are CSV/TSV/JSONL/Parquet/XLSX files with a text column and a label
    column; a label cell holds one label or several separated by ';',
    primary first (market;product_fit).

    \b
    Example:
        objections train data/corpus.jsonl --split-col split -o models/mine
    """
    from .io import check_model_output
    from .training import train_files

    check_model_output(output, data)
    result = train_files(
        data, output, text_col=text_col, label_col=label_col, split_col=split_col,
        spacy_model=spacy_model, cv=cv, cv_report=not no_cv_report, encoding=encoding,
    )
    if not quiet:
        report = result["metrics"]
        if report:
            from .evaluation import format_metrics

            click.echo(f"Cross-validated ({cv} folds) on {result['n']} examples:", err=True)
            click.echo(format_metrics(report), err=True)
        click.echo(f"Model written to {result['path']}", err=True)


@cli.command(context_settings=CONTEXT)
@click.argument("data", type=click.Path(allow_dash=True))
@model_option
@text_col_option
@click.option("--label-col", default="labels", show_default=True)
@click.option("--split-col", default=None, help="Evaluate only rows whose value in this column is --split.")
@click.option("--split", default="test", show_default=True)
@click.option("--by", default=None, help="Also report macro-F1 per value of this column (e.g. register).")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
@click.option("--encoding", default="utf-8", show_default=True)
@handle_errors
def evaluate(data, model, text_col, label_col, split_col, split, by, as_json, encoding):
    """Measure a model on labelled data.

    Prints per-label precision, recall and F1 of the primary label,
    macro-F1, the confusion matrix and calibration (Brier score, ECE).

    \b
    Example:
        objections evaluate data/corpus.jsonl --split-col split --split test --by register
    """
    from .training import evaluate_file

    report = evaluate_file(_load(model), data, text_col=text_col, label_col=label_col,
                           split_col=split_col, split=split, by=by, encoding=encoding)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    from .evaluation import format_metrics

    click.echo(format_metrics(report))
    for group, sub in report.get("by", {}).items():
        click.echo(f"{by}={group}: macro-F1 {sub['macro_f1']:.3f} on {sub['n']} notes")


@cli.command(context_settings=CONTEXT)
@click.argument("text")
@model_option
@click.option("--top", default=6, show_default=True, help="Terms to show per label.")
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as JSON.")
@handle_errors
def explain(text, model, top, as_json):
    """Explain the labels of one note (TEXT, or - to read it from stdin).

    \b
    Example:
        objections explain "Budget isn't the issue, they just don't see why they'd switch"
    """
    if text == "-":
        text = sys.stdin.read()
    result = _load(model).explain(text, top=top)
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(f"primary: {result['primary']}")
    click.echo(f"labels:  {';'.join(result['labels'])}")
    click.echo("scores:  " + "  ".join(
        f"{label} {score:.2f} (threshold {result['thresholds'][label]:.2f})"
        for label, score in result["scores"].items()))
    if result["evidence"]:
        click.echo(f"evidence: {result['evidence']}")
    for label in result["labels"]:
        terms = ", ".join(f"{term} {value:+.2f}" for term, value in result["terms"][label])
        click.echo(f"{label} terms: {terms}")


@cli.command(context_settings=CONTEXT)
@model_option
@click.option("--json", "as_json", is_flag=True, help="Print the metadata as JSON.")
@handle_errors
def info(model, as_json):
    """Show a model's card: labels, thresholds, versions, data and metrics.

    \b
    Example:
        objections info --model models/mine
    """
    from .persist import default_model_path, model_card, read_metadata

    path = model or default_model_path()
    meta = read_metadata(path)
    if as_json:
        click.echo(json.dumps(meta, indent=2))
    else:
        click.echo(f"Model: {os.fspath(path)}")
        click.echo(model_card(meta))


def main():
    cli(prog_name="objections")
