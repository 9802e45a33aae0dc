"""The ``objections`` command line: thin commands over the library."""

from __future__ import annotations

import functools
import itertools
import json
import os
import signal
import sys
import time
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
        except OSError as exc:  # disk full, file vanished, permission changed mid-run
            where = f" ({exc.filename})" if exc.filename else ""
            raise click.ClickException(f"{exc.strerror or exc}{where}") from exc
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
    from .io import check_input_path, check_output_path, table_format
    from .scoring import score_file

    # Everything that can be checked cheaply is checked before the model loads.
    check_input_path(input, encoding=encoding)
    check_output_path(output, [input])
    table_format(output)
    clf = _load(model)
    show = not quiet and sys.stderr.isatty()
    bar = None
    state = {"last": 0, "started": time.perf_counter()}

    def rows_per_second(rows):
        if rows is None:
            return None
        return f"{rows:,} rows, {rows / max(time.perf_counter() - state['started'], 1e-9):,.0f} rows/s"

    def progress(rows, read_stats):
        nonlocal bar
        if not show:
            return
        if bar is None:
            # Parquet knows its rows, text files their bytes; standard input
            # knows neither, so its bar only counts.
            total = read_stats.get("rows_total") or read_stats.get("bytes_total") or None
            state["unit"] = "rows" if read_stats.get("rows_total") else "bytes"
            bar = click.progressbar(None if total else itertools.count(), length=total, file=sys.stderr,
                                    label="scoring", show_eta=True, item_show_func=rows_per_second)
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
@click.argument("data", nargs=-1, type=click.Path())
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
@click.option("--base", default=None, metavar="default|none|PATH",
              help="What --add rows are added to: 'default' (the training split of the shipped corpus; "
                   "the default with --add), 'none' (the added rows alone) or a labelled file.")
@click.option("--add", "added", multiple=True, type=click.Path(), metavar="LABELS",
              help="Your own labelled notes to train on besides the base (repeatable).")
@click.option("--add-weight", type=click.FloatRange(0, min_open=True), default=None,
              help="Weight of each added row relative to a base row.  [default: chosen by "
                   "cross-validation on the added rows from 1, 2, 4, 8]")
@click.option("--lexicon", type=click.Path(), default=None,
              help="YAML file of your competitors, products and abbreviations; saved with the model "
                   "and applied whenever it scores.")
@click.option("--jobs", "-j", type=int, default=-1, show_default=True,
              help="Threads fitting the models; -1 uses every core.  The model does not depend on it.")
@quiet_option
@handle_errors
def train(data, output, text_col, label_col, split_col, spacy_model, cv, no_cv_report, encoding,
          base, added, add_weight, lexicon, jobs, quiet):
    """Train a model on labelled tables and save it with its model card.

    DATA are CSV/TSV/JSONL/Parquet/XLSX files with a text column and a label
    column; a label cell holds one label or several separated by ';',
    primary first (market;product_fit).

    To make the model your own, give your labelled notes with --add instead:
    they are added to the corpus the shipped model was trained on (--base
    default), their weight chosen by cross-validation on them, and both
    data sets' sizes and hashes go into the model card.  --lexicon names
    your competitors (read as __competitor__), your products
    (__product__) and your shorthand:

    \b
        competitors: [Acmecorp, Fleetwise]
        products: [DispatchIQ]
        abbreviations: {"w/": with, bc: because, HF: hiring freeze}

    \b
    Examples:
        objections train data/corpus.jsonl --split-col split -o models/mine
        objections train --add our_labels.csv --lexicon lexicon.yml -o models/ours
        objections train --base none --add our_labels.csv -o models/ours-only
    """
    from .io import check_model_output

    if not data and not added and base is None:
        raise click.UsageError("Give labelled DATA files, or your own rows with --add LABELS.")
    if data and (added or base is not None):
        raise click.UsageError("Give DATA files or --base/--add, not both (a file of your own goes in --base).")
    if add_weight is not None and not added:
        raise click.UsageError("--add-weight weighs the --add rows; give them with --add LABELS.")
    base_file = [base] if base is not None and base.lower() not in ("default", "none") else []
    check_model_output(output, [*data, *added, *base_file])
    from .training import fit_jobs

    with fit_jobs(jobs if jobs >= 1 else -1):
        _train(data, output, text_col, label_col, split_col, spacy_model, cv, no_cv_report, encoding,
               base, added, add_weight, lexicon, quiet)


def _train(data, output, text_col, label_col, split_col, spacy_model, cv, no_cv_report, encoding,
           base, added, add_weight, lexicon, quiet):
    if added or base is not None:
        from .retrain import train_with_base

        result = train_with_base(
            base or "default", list(added), output, add_weight=add_weight, lexicon=lexicon,
            split_col=split_col, text_col=text_col, label_col=label_col, spacy_model=spacy_model, cv=cv,
            cv_report=not no_cv_report, encoding=encoding,
            progress=None if quiet else (lambda line: click.echo(line, err=True)),
        )
        if not quiet:
            _echo_retrain(result)
        return
    from .training import train_files

    lexicon_params = {}
    if lexicon:
        from .lexicon import load_lexicon

        lex = load_lexicon(lexicon)
        lexicon_params = {"lexicon": lex.to_dict(), "extra_training": {"lexicon": lex.summary()}}
    result = train_files(
        data, output, text_col=text_col, label_col=label_col, split_col=split_col,
        spacy_model=spacy_model, cv=cv, cv_report=not no_cv_report, encoding=encoding, **lexicon_params,
    )
    if not quiet:
        _echo_cv(result["metrics"], cv, f"{result['n']} examples")
        click.echo(f"Model written to {result['path']}", err=True)


def _echo_cv(report, folds, title):
    """Cross-validated metrics on stderr (nothing when there are none)."""
    if report:
        from .evaluation import format_metrics

        click.echo(f"Cross-validated ({folds} folds) on {title}:", err=True)
        click.echo(format_metrics(report), err=True)


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


@cli.command(context_settings=CONTEXT)
@click.argument("scored", type=click.Path(allow_dash=True))
@click.option("--output", "-o", default=None, type=click.Path(allow_dash=True),
              help="Report file; - for stdout.  [default: report.html, or report.json with --format json]")
@click.option("--date-col", default=None, help="Column of dates: shows the reasons over time.")
@click.option("--by", multiple=True, metavar="COL",
              help="Column to compare segments by (repeatable); amounts are cut into quartile bands.")
@click.option("--freq", type=click.Choice(["month", "quarter", "week"]), default="month", show_default=True,
              help="Length of a period over time.")
@click.option("--format", "fmt", type=click.Choice(["html", "json"]), default=None,
              help="HTML page or JSON numbers.  [default: from the output's extension, else html]")
@click.option("--id-col", default=None, help="Id column shown next to the notes quoted.")
@model_option
@text_col_option
@input_options
@quiet_option
@handle_errors
def report(scored, output, date_col, by, freq, fmt, id_col, model, text_col, encoding, on_bad_lines, quiet):
    """Report why deals were lost, over time and by segment.

    SCORED is the output of `objections score`. Raw notes work too: they
    are scored on the way with --model (or the default model); --model
    also re-scores a scored table. The HTML report is one self-contained
    file (inline charts, no scripts, no network) to open in any browser
    or mail around; --format json gives the same numbers as data.

    \b
    Example:
        objections report scored.csv -o report.html --date-col closed_date --by region --by rep --freq quarter
    """
    from .report import report_file

    result, path = report_file(scored, output, fmt=fmt, model=model, text_col=text_col, encoding=encoding,
                               on_bad_lines=on_bad_lines, date_col=date_col, by=by, freq=freq, id_col=id_col)
    if not quiet and path != "-":
        shifts = len((result["over_time"] or {}).get("shifts", []))
        marked = f"; {shifts} shift{'' if shifts == 1 else 's'} marked" if result["over_time"] else ""
        click.echo(f"Report on {result['notes']['total']} notes written to {path}{marked}.", err=True)


def _echo_retrain(result):
    """Summary of ``train --add`` on stderr."""
    scores = result["weight_scores"]
    if scores:
        tried = ", ".join(f"{w:g}: {s:.3f}" for w, s in scores.items())
        click.echo(f"Weight of the added rows: {result['add_weight']:g} (cross-validated macro-F1 on them "
                   f"for each weight tried: {tried})", err=True)
    elif result["add_weight"] != 1:
        click.echo(f"Weight of the added rows: {result['add_weight']:g}", err=True)
    for key, title in (("cross_validated_on_added", "the added rows (base in every training fold)"),
                       ("cross_validated", "all rows")):
        report = result["metrics"].get(key)
        if report:
            _echo_cv(report, report["folds"], title)
    click.echo(f"Model written to {result['path']} ({result['n']} training rows)", err=True)


@cli.command(context_settings=CONTEXT)
@click.argument("scored", type=click.Path(allow_dash=True))
@click.option("-n", "n", type=click.IntRange(1), default=50, show_default=True, help="How many notes to suggest.")
@click.option("--output", "-o", default="-", show_default=True, type=click.Path(allow_dash=True),
              help="Table to write (its extension picks the format); - for CSV on stdout.")
@click.option("--model", "-m", "model", default=None, metavar="MODEL",
              help="Model that scores SCORED when it has no score_* columns (default: the default model).")
@text_col_option
@click.option("--label-col", default="labels", show_default=True,
              help="The empty column added for your labels; rows already labelled in it are skipped.")
@click.option("--strategy", type=click.Choice(["margin", "entropy"]), default="margin", show_default=True,
              help="Uncertainty: small gap between the two highest scores, or spread-out scores.")
@input_options
@quiet_option
@handle_errors
def suggest(scored, n, output, model, text_col, label_col, strategy, encoding, on_bad_lines, quiet):
    """Pick the notes most worth labelling next.

    SCORED is the output of `objections score` (or any table of notes, which
    is then scored with --model).  The picks are the notes the model is
    least sure about, spread over clusters of similar notes so they are not
    fifty copies of one kind of note.  The output keeps each note's columns
    and adds predicted, uncertainty, cluster and an empty labels column:
    fill it in (pitch, product_fit, market or none; several joined by ';',
    primary first) and train with `objections train --add`.

    \b
    Example:
        objections suggest scored.csv -n 50 -o to_label.csv
    """
    from .io import TableWriter, check_output_path, read_table, resolve_text_column
    from .retrain import SCORE_COLUMNS
    from .retrain import suggest as pick

    check_output_path(output, [scored])
    frame = read_table(scored, encoding=encoding, on_bad_lines=on_bad_lines)
    resolve_text_column(frame.columns, text_col, scored)
    clf = None if all(c in frame.columns for c in SCORE_COLUMNS) else _load(model)
    picked = pick(frame, n, model=clf, text_col=text_col, label_col=label_col, strategy=strategy)
    with TableWriter(output) as writer:
        writer.write(picked)
    if not quiet:
        click.echo(f"Suggested {len(picked)} of {len(frame)} notes (mean uncertainty "
                   f"{picked['uncertainty'].mean() if len(picked) else 0:.2f}).  Fill in the {label_col!r} "
                   f"column, then: objections train --add {output if output != '-' else 'FILE'} -o MODEL",
                   err=True)


@cli.command("check-labels", context_settings=CONTEXT)
@click.argument("labels_file", metavar="LABELS", type=click.Path())
@click.option("--output", "-o", default=None, type=click.Path(allow_dash=True),
              help="Write the flagged rows as a table (every input column plus given, suggested, confidence).")
@text_col_option
@click.option("--label-col", default="labels", show_default=True, help="Column holding the labels.")
@click.option("--id-col", default=None, help="Id column shown for each flagged row.")
@click.option("--base", default="none", show_default=True, metavar="none|default|PATH",
              help="Data in every training fold besides the other folds of LABELS; 'default' is the "
                   "shipped corpus (stronger predictions, about a minute per fold).")
@click.option("--cv", type=click.IntRange(2), default=5, show_default=True, help="Cross-validation folds.")
@click.option("--min-confidence", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Lowest score of the suggested label for a row to be listed.")
@click.option("--lexicon", type=click.Path(), default=None, help="YAML file of your vocabulary (see train).")
@click.option("--encoding", default="utf-8", show_default=True, help="Encoding of text input files.")
@quiet_option
@handle_errors
def check_labels(labels_file, output, text_col, label_col, id_col, base, cv, min_confidence, lexicon,
                 encoding, quiet):
    """List rows whose label looks wrong, for a person to review.

    Each row of LABELS is predicted by a model trained without it
    (cross-validation).  A row is listed when a label it was not given is
    predicted with high confidence: above --min-confidence, above the score
    of the given label, and above that label's average score on the rows
    that have it (the idea of confident learning).  Rows are listed most
    confident first, with the given label, the suggested one and the
    confidence.  Nothing is changed in LABELS.

    \b
    Example:
        objections check-labels our_labels.csv --id-col deal_id -o review.csv
    """
    from .io import TableWriter, check_output_path, read_labelled, resolve_text_column
    from .retrain import check_labels as find

    if output:
        check_output_path(output, [labels_file])
    texts, labels, frame = read_labelled([labels_file], text_col, label_col, encoding=encoding)
    if id_col:
        resolve_text_column(frame.columns, id_col, labels_file, "id")
    flagged = find(texts, labels, base=base, cv=cv, lexicon=lexicon, min_confidence=min_confidence,
                   progress=None if quiet else (lambda line: click.echo(line, err=True)))
    if output:
        table = frame.drop(columns="source").iloc[flagged["row"].to_numpy()].reset_index(drop=True)
        table.insert(0, "row", flagged["row"].to_numpy() + 1)
        for column in ("given", "suggested", "confidence", "given_score"):
            table[column] = flagged[column].to_numpy()
        with TableWriter(output) as writer:
            writer.write(table)
    if not quiet or not output:
        out_err = bool(output)
        click.echo(f"{len(flagged)} of {len(texts)} rows have a label that disagrees with a cross-validated "
                   "prediction" + (":" if len(flagged) and not output else "."), err=out_err)
        if not output:
            ids = frame[id_col].astype(str).to_numpy() if id_col else None
            for entry in flagged.itertuples():
                where = f"row {entry.row + 1}" + (f" ({id_col} {ids[entry.row]})" if ids is not None else "")
                click.echo(f"{where}: given {entry.given}, suggested {entry.suggested} "
                           f"(confidence {entry.confidence:.2f}; the given label scored {entry.given_score:.2f})")
                click.echo(f"    {_snippet(texts[entry.row], 160)}")


def _snippet(text, width):
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 3] + "..."


class CompareError(click.ClickException):
    """An error in ``compare``: exit status 2, so it is told apart from "not better"."""

    exit_code = 2


@cli.command(context_settings=CONTEXT)
@click.argument("old")
@click.argument("new")
@click.option("--data", required=True, type=click.Path(),
              help="Labelled notes neither model was trained on (e.g. your held-out rows).")
@text_col_option
@click.option("--label-col", default="labels", show_default=True, help="Column holding the labels.")
@click.option("--split-col", default=None, help="Compare only on rows whose value in this column is --split.")
@click.option("--split", default="test", show_default=True)
@click.option("--id-col", default=None, help="Id column shown for the notes whose label changed.")
@click.option("--resamples", type=click.IntRange(100), default=1000, show_default=True,
              help="Bootstrap resamples.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap.")
@click.option("--show", type=click.IntRange(0), default=20, show_default=True,
              help="How many notes whose primary label changed to list.")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@click.option("--no-record", is_flag=True, help="Do not record the verdict in NEW's directory.")
@click.option("--encoding", default="utf-8", show_default=True, help="Encoding of text input files.")
@handle_errors
def compare(old, new, data, text_col, label_col, split_col, split, id_col, resamples, seed, show, as_json,
            no_record, encoding):
    """Compare two models on held-out labelled notes.

    OLD and NEW are model directories ('default' is the current default
    model).  Prints macro-F1 and per-label F1 of both, the difference with a
    95% paired bootstrap confidence interval, and the notes whose primary
    label changed.  The verdict is recorded in NEW's directory
    (comparisons.json), where `objections promote` looks for it.

    \b
    Exit status (to gate automation):
        0  NEW is significantly better: the interval lies above 0
        1  it is not: no significant difference, or NEW is worse
        2  error: a model or the data could not be read

    \b
    Example:
        objections compare default models/ours --data held_out.csv --id-col deal_id
    """
    from .labels import LABELS
    from .retrain import compare_files

    try:
        result = compare_files(old, new, data, text_col=text_col, label_col=label_col, split_col=split_col,
                               split=split, encoding=encoding, resamples=resamples, seed=seed,
                               record=not no_record)
        if id_col:
            from .io import resolve_text_column

            resolve_text_column(result["frame"].columns, id_col, data, "id")
    except (ObjectionsError, OSError) as exc:
        raise CompareError(str(exc)) from exc
    texts, frame = result.pop("texts"), result.pop("frame")
    ids = frame[id_col].astype(str).tolist() if id_col else None
    for change in result["changed"]:
        change["text"] = texts[change["row"]]
        if ids is not None:
            change["id"] = ids[change["row"]]
    if as_json:
        result["recorded"] = str(result["recorded"]) if result["recorded"] else None
        click.echo(json.dumps(result, indent=2))
    else:
        interval = result["interval"]
        level = round(interval["level"] * 100)
        click.echo(f"Compared on {result['n']} notes of {result['data']['path']}")
        click.echo(f"{'':<15} {'old':>7} {'new':>7} {'change':>8}")
        click.echo(f"{'macro-F1':<15} {result['old']['macro_f1']:>7.3f} {result['new']['macro_f1']:>7.3f} "
                   f"{interval['difference']:>+8.3f}   {level}% CI {interval['low']:+.3f} to {interval['high']:+.3f}")
        for label in LABELS:
            a, b = result["old"]["per_label"][label], result["new"]["per_label"][label]
            click.echo(f"{'F1 ' + label:<15} {a:>7.3f} {b:>7.3f} {b - a:>+8.3f}")
        words = {"better": "NEW is significantly better",
                 "worse": "NEW is significantly worse",
                 "no_difference": "No significant difference"}
        click.echo(f"{words[result['verdict']]} ({level}% paired bootstrap interval of the macro-F1 change, "
                   f"{interval['resamples']} resamples, seed {interval['seed']}).")
        changed = result["changed"]
        if changed:
            click.echo(f"Primary label changed on {len(changed)} notes"
                       + (f" (first {show}):" if len(changed) > show else ":"))
            for change in changed[:show]:
                where = f"row {change['row'] + 1}" + (f" ({id_col} {change['id']})" if ids is not None else "")
                mark = "fixed" if change["new"] == change["gold"] else "broken" if change["old"] == change["gold"] else "still wrong"
                click.echo(f"  {where}: {change['old']} -> {change['new']} (gold {change['gold']}, {mark})  "
                           f"{_snippet(change['text'], 100)}")
        if result["recorded"]:
            click.echo(f"Verdict recorded in {result['recorded']}", err=True)
    sys.exit(0 if result["verdict"] == "better" else 1)


@cli.command(context_settings=CONTEXT)
@click.argument("model", required=False)
@click.option("--to", "to", type=click.Path(), default=None,
              help="Copy the model directory here first and make the copy the default.")
@click.option("--force", is_flag=True, help="Promote without a recorded comparison in which MODEL was better.")
@click.option("--data", default=None, type=click.Path(),
              help="Held-out labelled notes: compare MODEL with the current default on them first.")
@text_col_option
@click.option("--label-col", default="labels", show_default=True, help="Column holding the labels.")
@click.option("--reset", is_flag=True, help="Forget the promoted model: the shipped model is the default again.")
@handle_errors
def promote(model, to, force, data, text_col, label_col, reset):
    """Make MODEL the default model for this user.

    MODEL must have beaten the model it was compared with: `objections
    compare OLD MODEL --data HELD_OUT` recorded a significantly better
    result (and no significantly worse one) in MODEL's directory, or --data
    runs that comparison now against the current default.  --force skips
    the check.

    The choice is written to the user's configuration file,
    $OBJECTIONS_CONFIG or ~/.config/objections/config.json
    ($XDG_CONFIG_HOME/objections/config.json); nothing is written into the
    installed package.  Every command then uses MODEL when no --model is
    given.  The default model is, in order: $OBJECTIONS_MODEL, the promoted
    model, the shipped model.

    \b
    Examples:
        objections compare default models/ours --data held_out.csv && objections promote models/ours
        objections promote models/ours --to ~/models/objections-current
        objections promote --reset
    """
    from .retrain import compare_files
    from .retrain import promote as make_default

    if reset:
        if model or to or force or data:
            raise click.UsageError("--reset takes no MODEL or other options.")
        from .retrain import unpromote

        previous = unpromote()
        click.echo(f"{previous} is no longer the default; the shipped model is." if previous
                   else "No model was promoted; the shipped model is the default.")
        return
    if not model:
        raise click.UsageError("Give the MODEL directory to promote (or --reset).")
    if data:
        result = compare_files("default", model, data, text_col=text_col, label_col=label_col)
        click.echo(f"Compared with the current default on {result['n']} notes: macro-F1 "
                   f"{result['old']['macro_f1']:.3f} -> {result['new']['macro_f1']:.3f} "
                   f"(95% CI of the change {result['interval']['low']:+.3f} to {result['interval']['high']:+.3f}).",
                   err=True)
    done = make_default(model, to=to, force=force)
    how = "forced, without a passing comparison" if done["forced"] else (
        f"better than {done['comparisons'][0]['old_model']['path']} on {done['comparisons'][0]['data']['path']}")
    click.echo(f"{done['path']} is now the default model ({how}); recorded in {done['config']}.")
    if os.environ.get("OBJECTIONS_MODEL"):
        click.echo(f"Warning: $OBJECTIONS_MODEL is set ({os.environ['OBJECTIONS_MODEL']}) and still comes first.",
                   err=True)


def main():
    cli(prog_name="objections")
