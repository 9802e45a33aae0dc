"""Reports: why deals were lost, over time and by segment.

:func:`build_report` turns a scored table (the output of ``objections
score``, or raw notes scored on the way) into a dict of plain numbers;
:func:`render_html` turns that dict into one self-contained HTML page
(inline SVG and CSS, no script, no network); :func:`write_report` writes
either atomically.  ``objections report`` is a thin layer over
:func:`report_file`.

Examples
--------
>>> import pandas as pd
>>> scored = pd.DataFrame({
...     "text": ["budget frozen", "no SSO", "not convinced", "see you Tuesday"],
...     "primary": ["market", "product_fit", "pitch", "none"],
...     "score_pitch": [0.1, 0.2, 0.7, 0.1], "score_product_fit": [0.1, 0.9, 0.2, 0.1],
...     "score_market": [0.8, 0.1, 0.1, 0.1], "score_none": [0.1, 0.1, 0.1, 0.9],
... })
>>> report = build_report(scored)
>>> report["overall"]["counts"]
{'pitch': 1, 'product_fit': 1, 'market': 1, 'none': 1}
>>> "<svg" in render_html(report)
True
"""

from __future__ import annotations

import datetime as _dt
import difflib
import html
import json
import math
import os
import re
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError
from .labels import LABELS, NONE

__all__ = ["build_report", "render_html", "render_json", "write_report", "report_file", "FREQS"]

#: ``--freq`` values and the pandas period each stands for.
FREQS = {"month": "M", "quarter": "Q", "week": "W"}
REPORT_VERSION = 1

_SCORE_COLUMNS = [f"score_{label}" for label in LABELS]
_TITLES = {"pitch": "Pitch", "product_fit": "Product fit", "market": "Market shift", NONE: "No objection"}
# Colour-blind-safe (Okabe-Ito) and distinct in greyscale print.
_COLOURS = {"pitch": "#0072B2", "product_fit": "#E69F00", "market": "#D55E00", NONE: "#B9B9B9"}
_EXCERPT_CHARS = 600
#: Segments drawn per ``--by`` column; a column of 500 reps stays readable.
_MAX_SEGMENTS_SHOWN = 40


# -- scoring the input when it is not scored yet ------------------------------


def _is_scored(frame):
    return "primary" in frame.columns and all(c in frame.columns for c in _SCORE_COLUMNS)


def _model_info(clf, path=None):
    meta = getattr(clf, "metadata_", None) or {}
    training = meta.get("training") or {}
    return {
        "scored_by": "this report",
        "path": os.fspath(path) if path is not None else None,
        "created": meta.get("created"),
        "training_rows": training.get("rows"),
    }


def _ensure_scored(frame, model, text_col):
    """The scored frame and a description of the model behind its scores."""
    from .io import resolve_text_column

    if model is None and _is_scored(frame):
        return frame, {"scored_by": "input file", "path": None, "created": None, "training_rows": None}
    if model is None and "primary" in frame.columns:
        missing = [c for c in _SCORE_COLUMNS if c not in frame.columns]
        raise InputError(
            f"The table has a 'primary' column but lacks {', '.join(missing)}; pass --model to score "
            "it again, or report on the complete output of `objections score`"
        )
    from .persist import default_model_path, load
    from .scoring import score_frame

    resolve_text_column(frame.columns, text_col, "the table")
    path = None
    if model is None or isinstance(model, (str, os.PathLike)):
        path = Path(model) if model is not None else default_model_path()
        model = load(path)
    return score_frame(model, frame, text_col=text_col), _model_info(model, path)


# -- small helpers --------------------------------------------------------------


def _missing(value):
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # a list or array in a cell is a value
        return False


def _texts(values):
    """Cells as strings; None, NaN, NaT and pd.NA become ``""``."""
    return ["" if not isinstance(v, str) and _missing(v) else str(v) for v in values]


def _scores(frame):
    try:
        return frame[_SCORE_COLUMNS].apply(pd.to_numeric, errors="raise").to_numpy(dtype=float)
    except (ValueError, TypeError) as exc:
        for col in _SCORE_COLUMNS:
            bad = pd.to_numeric(frame[col], errors="coerce").isna() & frame[col].notna()
            if bad.any():
                row = int(np.flatnonzero(bad.to_numpy())[0]) + 1
                raise InputError(
                    f"Row {row} of column {col!r} holds {frame[col].iloc[row - 1]!r}, not a score; "
                    "report on the unchanged output of `objections score`"
                ) from exc
        raise


def _check_primary(values):
    for i, value in enumerate(values, start=1):
        if value not in LABELS:
            raise InputError(
                f"Row {i} of column 'primary' holds {value!r}; labels are {', '.join(LABELS)}. "
                "Report on the unchanged output of `objections score`, or pass --model to score again"
            )


def _check_column(columns, name, option, where=None):
    columns = [str(c) for c in columns]
    if name in columns:
        return
    close = difflib.get_close_matches(name, columns, n=1, cutoff=0.6)
    hint = f" Did you mean {option} {close[0]!r}?" if close else ""
    raise InputError(
        f"{where or 'The table'} has no column {name!r}; its columns are: {', '.join(map(repr, columns))}.{hint}"
    )


def _share(count, total):
    return round(count / total, 4) if total else 0.0


def _counts(primaries):
    found = Counter(primaries)
    return {label: int(found.get(label, 0)) for label in LABELS}


def _shares(counts, total):
    return {label: _share(counts[label], total) for label in LABELS}


# -- over time ------------------------------------------------------------------


def _period_name(period, freq):
    if freq == "week":
        return f"{period.start_time:%Y-%m-%d}"
    return str(period)


def _parse_dates(values, column):
    text = pd.Series(_texts(values), dtype=object).str.strip()
    parsed = pd.to_datetime(text.where(text != ""), errors="coerce", format="mixed", utc=True)
    parsed = parsed.dt.tz_localize(None)
    if len(text) and parsed.isna().all():
        sample = next((v for v in text if v), "")
        raise InputError(
            f"Column {column!r} holds no readable dates (e.g. {sample!r}); give dates as YYYY-MM-DD "
            "or pass another --date-col"
        )
    return parsed


def _binom_two_sided(k, n, p):
    from scipy.stats import binomtest

    return float(binomtest(int(k), int(n), float(p)).pvalue)


def _shift_message(label, period, count, total, share, usual, ratio, window, freq):
    what = f"{_TITLES[label]}: {share:.0%} of notes in {period} ({count} of {total})"
    base = f"against {usual:.0%} over the previous {window} {freq}s"
    if ratio is None:
        change = "new: no such notes before"
    elif count == 0:
        change = "gone"
    elif ratio >= 1:
        named = {2: "doubled", 3: "tripled"}.get(round(ratio)) if abs(ratio - round(ratio)) < 0.15 else None
        change = named or f"{ratio:.1f}× its usual share"
    else:
        change = "halved" if 0.45 <= ratio <= 0.55 else f"down to {ratio:.1f}× its usual share"
    return f"{what}, {base} — {change}."


def _over_time(dates, primaries, freq, window, alpha, min_notes, min_history):
    code = FREQS[freq]
    dated = dates.notna().to_numpy()
    periods = dates[dated].dt.to_period(code)
    labels = np.asarray(primaries, dtype=object)[dated]
    result = {
        "freq": freq,
        "window": window,
        "alpha": alpha,
        "min_notes": min_notes,
        "min_history": min_history,
        "periods": [],
        "shifts": [],
    }
    if not len(periods):
        return result
    span = pd.period_range(periods.min(), periods.max(), freq=code)
    table = pd.crosstab(
        pd.Categorical(periods, categories=span), pd.Categorical(labels, categories=LABELS), dropna=False
    )
    rows, shifts = [], []
    for i, period in enumerate(span):
        counts = {label: int(table.iloc[i][label]) for label in LABELS}
        total = sum(counts.values())
        before = table.iloc[max(0, i - window) : i]
        history = int((before.sum(axis=1) > 0).sum())
        n_before = int(before.to_numpy().sum())
        entry = {
            "period": _period_name(period, freq),
            "start": f"{period.start_time:%Y-%m-%d}",
            "end": f"{period.end_time:%Y-%m-%d}",
            "total": total,
            "counts": counts,
            "shares": _shares(counts, total),
            "usual": None,
        }
        if history >= max(min_history, 1) and total >= min_notes:
            entry["usual"] = {}
            for label in LABELS:
                x_before = int(before[label].sum())
                usual = x_before / n_before
                entry["usual"][label] = round(usual, 4)
                # Half a note of smoothing: a label absent from the trailing
                # periods is unusual when it appears, not infinitely so.
                p0 = (x_before + 0.5) / (n_before + 1)
                p_value = _binom_two_sided(counts[label], total, p0)
                if p_value < alpha:
                    share = counts[label] / total
                    ratio = round(share / usual, 2) if usual else None
                    shifts.append(
                        {
                            "period": entry["period"],
                            "label": label,
                            "direction": "up" if share > usual else "down",
                            "count": counts[label],
                            "total": total,
                            "share": round(share, 4),
                            "usual": round(usual, 4),
                            "ratio": ratio,
                            "p_value": float(f"{p_value:.3g}"),
                            "message": _shift_message(
                                label,
                                entry["period"],
                                counts[label],
                                total,
                                share,
                                usual,
                                ratio,
                                window,
                                freq,
                            ),
                        }
                    )
        rows.append(entry)
    result.update(periods=rows, shifts=shifts)
    return result


# -- segments -------------------------------------------------------------------


def _compact(value):
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.3g}"


def _segment_values(values, max_categories):
    """Segment names per row, in display order when the column is banded, and whether it was."""
    text = pd.Series(_texts(values), dtype=object).str.strip()
    numbers = pd.to_numeric(text.str.replace(",", "", regex=False).str.lstrip("$€£"), errors="coerce")
    filled = text != ""
    if filled.any() and numbers[filled].notna().all() and numbers[filled].nunique() > max_categories:
        # Many distinct numbers (deal sizes): quartile bands, in order.
        bands, edges = pd.qcut(numbers[filled], 4, retbins=True, duplicates="drop")
        names = [f"{_compact(lo)}–{_compact(hi)}" for lo, hi in zip(edges[:-1], edges[1:])]
        out = pd.Series("(blank)", index=text.index, dtype=object)
        out[filled] = [names[c] for c in bands.cat.codes]
        order = names + (["(blank)"] if (~filled).any() else [])
        return out.tolist(), order
    out = text.where(filled, "(blank)")
    return out.tolist(), None


def _segments(frame, by, primaries, min_segment, max_categories):
    sections = []
    for column in by:
        names, order = _segment_values(frame[column], max_categories)
        groups = {}
        for name, label in zip(names, primaries):
            groups.setdefault(name, []).append(label)
        rows = []
        for name, labels in groups.items():
            counts = _counts(labels)
            total = len(labels)
            rows.append(
                {
                    "value": name,
                    "total": total,
                    "counts": counts,
                    "shares": _shares(counts, total),
                    "small": total < min_segment,
                }
            )
        if order is not None:
            rows.sort(key=lambda r: order.index(r["value"]))
        else:
            rows.sort(key=lambda r: (-r["total"], r["value"]))
        sections.append(
            {"column": column, "banded": order is not None, "min_notes": min_segment, "rows": rows}
        )
    return sections


# -- phrases --------------------------------------------------------------------

_WORD = re.compile(r"[a-z][a-z0-9]*(?:['’][a-z]+)?")
_KEEP = {
    "no",
    "not",
    "nor",
    "never",
    "without",
    "cannot",
    "none",
    "can't",
    "won't",
    "don't",
    "didn't",
    "doesn't",
    "isn't",
    "wasn't",
    "aren't",
    "couldn't",
    "wouldn't",
    "shouldn't",
}


def _stop_words():
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    extra = {
        "i'm",
        "it's",
        "we're",
        "they're",
        "you're",
        "i've",
        "we've",
        "they've",
        "that's",
        "there's",
        "let's",
        "i'll",
        "we'll",
        "they'll",
        "you'll",
        "he's",
        "she's",
        "i'd",
        "we'd",
        "they'd",
    }
    return (set(ENGLISH_STOP_WORDS) | extra) - _KEEP


def _note_phrases(text, stop):
    words = [w.replace("’", "'") for w in _WORD.findall(text.lower())]
    found = {w for w in words if w not in stop and len(w) > 1}
    found.update(f"{a} {b}" for a, b in zip(words, words[1:]) if a not in stop and b not in stop)
    return found


def _phrases(texts, primaries, top, min_notes, z_min=1.96, prior_weight=0.1):
    """Most characteristic uni/bigrams per primary label.

    Weighted log-odds ratio with an informative Dirichlet prior (Monroe,
    Colaresi & Quinn 2008): each label's notes against all other notes,
    the prior being the phrase counts over the whole data set scaled to
    ``prior_weight`` of their total (at full weight the prior drowns a
    data set of a few hundred notes).  Phrases are counted once per note,
    so one long transcript cannot dominate.  Phrases whose z-score reaches
    ``z_min`` and that occur in at least ``min_notes`` (and 1%) of the
    label's notes are ranked by log-odds.
    """
    stop = _stop_words()
    per_label = {label: Counter() for label in LABELS}
    for text, label in zip(texts, primaries):
        per_label[label].update(_note_phrases(text, stop))
    everywhere = Counter()
    for counts in per_label.values():
        everywhere.update(counts)
    total = sum(everywhere.values())
    a0 = prior_weight * total
    notes_per_label = Counter(primaries)
    out = {}
    for label in LABELS:
        mine = per_label[label]
        n_i = sum(mine.values())
        n_j = total - n_i
        floor = max(min_notes, 0.01 * notes_per_label[label])
        scored = []
        for phrase, y_i in mine.items():
            if y_i < floor:
                continue
            a_w = prior_weight * everywhere[phrase]
            y_j = everywhere[phrase] - y_i
            delta = math.log((y_i + a_w) / (n_i + a0 - y_i - a_w)) - math.log(
                (y_j + a_w) / (n_j + a0 - y_j - a_w)
            )
            z = delta / math.sqrt(1 / (y_i + a_w) + 1 / (y_j + a_w))
            if z >= z_min:
                scored.append((delta, z, phrase, y_i))
        # Ranked by the shrunk log-odds itself: ranking by z favours common
        # words ("just", "think") that are only a little more frequent.
        scored.sort(key=lambda item: (-item[0], -item[2].count(" "), item[2]))
        chosen = []
        for delta, z, phrase, y_i in scored:
            # A word that mostly occurs inside an already chosen phrase says nothing new.
            if any(phrase in c["phrase"].split() and y_i <= 1.25 * c["notes"] for c in chosen):
                continue
            chosen.append(
                {
                    "phrase": phrase,
                    "log_odds": round(delta, 2),
                    "z": round(z, 2),
                    "notes": int(y_i),
                    "elsewhere": int(everywhere[phrase] - y_i),
                }
            )
            if len(chosen) == top:
                break
        out[label] = chosen
    return out


# -- notes shown ----------------------------------------------------------------


def _find_evidence(text, evidence):
    """``(start, end)`` of the evidence sentence in the text, or None."""
    words = evidence.split()
    if not words:
        return None
    match = re.search(r"\s+".join(map(re.escape, words)), text)
    return match.span() if match else None


def _excerpt(text, span, limit=_EXCERPT_CHARS):
    """The text (cut around ``span`` when long) and the span within the cut."""
    if len(text) <= limit:
        return text, span
    if span is None:
        return text[:limit].rstrip() + " …", None
    start, end = span
    room = max(limit - (end - start), 0)
    lo = max(0, start - room // 2)
    hi = min(len(text), lo + max(limit, end - start))
    lo = max(0, hi - max(limit, end - start))
    prefix = "… " if lo > 0 else ""
    suffix = " …" if hi < len(text) else ""
    return prefix + text[lo:hi] + suffix, (start - lo + len(prefix), end - lo + len(prefix))


def _note_entry(i, ids, texts, evidence, frame_labels):
    span = _find_evidence(texts[i], evidence[i]) if evidence[i] else None
    shown, shown_span = _excerpt(texts[i], span)
    return {
        "row": i + 1,
        "id": ids[i] if ids is not None else None,
        "labels": frame_labels[i],
        "text": shown,
        "evidence": evidence[i],
        "evidence_span": list(shown_span) if shown_span else None,
    }


def _examples(scores, primaries, usable, ids, texts, evidence, labels, per_label):
    out = {}
    for j, label in enumerate(LABELS):
        rows = [i for i in range(len(texts)) if usable[i] and primaries[i] == label]
        rows.sort(key=lambda i: (-round(scores[i, j], 3), len(texts[i]), i))
        entries = []
        for i in rows[:per_label]:
            entry = _note_entry(i, ids, texts, evidence, labels)
            entry["score"] = round(float(scores[i, j]), 4)
            entries.append(entry)
        out[label] = entries
    return out


def _uncertain(scores, primaries, usable, ids, texts, evidence, labels, count):
    ranked = np.sort(scores, axis=1)
    margins = ranked[:, -1] - ranked[:, -2]
    rows = sorted((i for i in range(len(texts)) if usable[i]), key=lambda i: (round(margins[i], 4), i))
    out = []
    for i in rows[:count]:
        entry = _note_entry(i, ids, texts, evidence, labels)
        entry["primary"] = primaries[i]
        entry["scores"] = {label: round(float(scores[i, j]), 4) for j, label in enumerate(LABELS)}
        entry["margin"] = round(float(margins[i]), 4)
        out.append(entry)
    return out


# -- the report -------------------------------------------------------------------


def build_report(
    frame,
    *,
    date_col=None,
    by=(),
    freq="month",
    text_col="text",
    id_col=None,
    model=None,
    source=None,
    window=4,
    alpha=0.01,
    min_period_notes=5,
    min_history=2,
    min_segment=10,
    max_categories=12,
    top_phrases=10,
    min_phrase_notes=3,
    examples=3,
    uncertain=10,
):
    """Summarise a scored table: why deals were lost, over time and by segment.

    Parameters
    ----------
    frame : pandas.DataFrame
        The output of ``objections score`` (columns ``primary`` and
        ``score_*``; ``labels``, ``evidence`` and ``note`` are used when
        present), or raw notes, which are then scored with ``model``.
    date_col : str, optional
        Column of dates; without it there is no section over time.
    by : sequence of str
        Columns to break the shares down by (region, rep, ...).  A column
        of more than ``max_categories`` distinct numbers (a deal amount)
        is cut into quartile bands.
    freq : {"month", "quarter", "week"}
        Length of a period over time.
    text_col : str
        Column holding the notes.
    id_col : str, optional
        Column of ids shown next to the notes quoted.
    model : ObjectionClassifier, str, Path or None
        Score the table with this model (or model directory), even when it
        is already scored.  None uses the scores in the table, or the
        default model when there are none.
    source : str, optional
        Name of the input shown in the report.
    window : int
        Trailing periods a period's shares are compared with.
    alpha : float
        A label's share in a period is marked as a shift when an exact
        two-sided binomial test against its pooled share over the
        ``window`` previous periods gives a p-value below ``alpha``.
    min_period_notes, min_history : int
        Test only periods with at least this many notes, after at least
        ``min_history`` earlier periods with notes in the window.
    min_segment : int
        Segments with fewer notes are flagged ``small``.
    max_categories : int
        Numeric ``by`` columns with more distinct values are banded.
    top_phrases, min_phrase_notes : int
        Phrases listed per label, and the notes a phrase must occur in.
    examples, uncertain : int
        Notes quoted per label, and the least certain notes listed.

    Returns
    -------
    dict
        Plain JSON-able numbers: ``notes``, ``date_range``, ``overall``,
        ``over_time``, ``segments``, ``phrases``, ``examples``,
        ``uncertain``, ``model``.  Empty notes are counted in ``notes``
        but left out of every share: they carry no reason.
    """
    if freq not in FREQS:
        raise InputError(f"Unknown --freq {freq!r}; use one of {', '.join(FREQS)}")
    by = list(by or ())
    for column, option in [(date_col, "--date-col"), (id_col, "--id-col")] + [(c, "--by") for c in by]:
        if column is not None:
            _check_column(frame.columns, column, option, source)
    _check_column(frame.columns, text_col, "--text-col", source)
    frame, model_info = _ensure_scored(frame.reset_index(drop=True), model, text_col)

    texts = _texts(frame[text_col])
    primaries = [str(p) for p in frame["primary"]]
    _check_primary(primaries)
    scores = _scores(frame)
    if "note" in frame.columns:
        flags = _texts(frame["note"])
    else:
        from .classifier import note_flag

        flags = [note_flag(t) for t in texts]
    evidence = _texts(frame["evidence"]) if "evidence" in frame.columns else [""] * len(texts)
    labels = _texts(frame["labels"]) if "labels" in frame.columns else primaries
    ids = _texts(frame[id_col]) if id_col else None
    usable = np.array([f != "empty" for f in flags], dtype=bool)
    used = [p for p, u in zip(primaries, usable) if u]

    total = len(texts)
    n_empty = int((~usable).sum())
    n_truncated = sum(f == "truncated" for f in flags)
    counts = _counts(used)
    report = {
        "report_version": REPORT_VERSION,
        "generated": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        "source": source,
        "model": model_info,
        "labels": list(LABELS),
        "notes": {
            "total": total,
            "counted": len(used),
            "empty": n_empty,
            "empty_share": _share(n_empty, total),
            "truncated": n_truncated,
            "truncated_share": _share(n_truncated, total),
        },
        "date_range": None,
        "overall": {"counts": counts, "shares": _shares(counts, len(used))},
        "over_time": None,
        "segments": [],
        "phrases": _phrases([t for t, u in zip(texts, usable) if u], used, top_phrases, min_phrase_notes),
        "examples": _examples(scores, primaries, usable, ids, texts, evidence, labels, examples),
        "uncertain": _uncertain(scores, primaries, usable, ids, texts, evidence, labels, uncertain),
    }
    if date_col is not None:
        dates = _parse_dates(frame[date_col], date_col)
        in_use = dates[usable]
        report["date_range"] = {
            "column": date_col,
            "first": f"{in_use.min():%Y-%m-%d}" if in_use.notna().any() else None,
            "last": f"{in_use.max():%Y-%m-%d}" if in_use.notna().any() else None,
            "undated": int(in_use.isna().sum()),
        }
        report["over_time"] = _over_time(
            in_use.reset_index(drop=True), used, freq, window, alpha, min_period_notes, min_history
        )
    used_frame = frame[usable].reset_index(drop=True)
    report["segments"] = _segments(used_frame, by, used, min_segment, max_categories)
    return report


def render_json(report):
    """The report as indented JSON text."""
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


# -- HTML -------------------------------------------------------------------------


def _e(value):
    return html.escape(str(value), quote=True)


def _pct(share):
    return f"{share * 100:.0f}%"


def _legend():
    items = "".join(
        f'<li><span class="swatch" style="background:{_COLOURS[label]}"></span>{_e(_TITLES[label])}</li>'
        for label in LABELS
    )
    return f'<ul class="legend">{items}</ul>'


def _hbar_svg(rows, width=560, label_width=170, row_height=26, css_id=None):
    """Horizontal 100% stacked bars, one per row: (name, total, counts, shares, small)."""
    height = row_height * len(rows) + 8
    full = label_width + width + 110
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {full} {height}" width="{full}" height="{height}"'
        + (f' id="{css_id}"' if css_id else "")
        + ">"
    ]
    for r, (name, total, counts, shares, small) in enumerate(rows):
        y = 4 + r * row_height
        shown = name if len(name) <= 26 else name[:25] + "…"
        parts.append(
            f'<text x="{label_width - 8}" y="{y + row_height / 2 + 4:.1f}" text-anchor="end" '
            f'class="axis">{_e(shown)}<title>{_e(name)}</title></text>'
        )
        x = label_width
        opacity = ' opacity="0.45"' if small else ""
        for label in LABELS:
            w = shares[label] * width
            if w <= 0:
                continue
            parts.append(
                f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_height - 6}" '
                f'fill="{_COLOURS[label]}"{opacity}><title>{_e(name)} — {_e(_TITLES[label])}: '
                f"{counts[label]} of {total} ({_pct(shares[label])})</title></rect>"
            )
            if w >= 34:
                parts.append(
                    f'<text x="{x + w / 2:.1f}" y="{y + row_height / 2 + 4:.1f}" text-anchor="middle" '
                    f'class="inbar">{_pct(shares[label])}</text>'
                )
            x += w
        tag = " small" if small else ""
        parts.append(
            f'<text x="{label_width + width + 8}" y="{y + row_height / 2 + 4:.1f}" class="axis">'
            f"n={total}{tag}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _share_table(rows, first_header, css_id, row_class=None, marks=None):
    """A table of shares with counts; ``marks`` maps (row name, label) to a shift's number and direction."""
    head = "".join(f"<th>{_e(_TITLES[label])}</th>" for label in LABELS)
    marks = marks or {}
    body = []
    for name, total, counts, shares, extra in rows:
        cells = []
        for label in LABELS:
            mark = marks.get((name, label))
            glyph = f'<span class="shift">{"▲" if mark[1] == "up" else "▼"}{mark[0]}</span> ' if mark else ""
            cls = "num shifted" if mark else "num"
            cells.append(
                f'<td class="{cls}" data-label="{label}" data-count="{counts[label]}">{glyph}'
                f'{_pct(shares[label])} <span class="count">({counts[label]})</span></td>'
            )
        cells = "".join(cells)
        cls = f' class="{row_class(extra)}"' if row_class and row_class(extra) else ""
        body.append(f'<tr{cls}><th scope="row">{_e(name)}</th><td class="num total">{total}</td>{cells}</tr>')
    return (
        f'<table id="{css_id}"><thead><tr><th>{_e(first_header)}</th><th>Notes</th>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _time_svg(over_time):
    periods = over_time["periods"]
    shifts = over_time["shifts"]
    marks = {(s["period"], s["label"]): k + 1 for k, s in enumerate(shifts)}
    left, top, plot_h = 46, 26, 260
    # Wide bars for a few periods, narrower (and scrolling) for many.
    step = min(110, max(40, 1000 // max(len(periods), 1)))
    gap = max(14, step // 4)
    bar = step - gap
    rotate = step < 7 * max((len(p["period"]) for p in periods), default=0) + 8
    bottom = 70 if rotate else 34
    width = left + len(periods) * (bar + gap) + 10
    height = top + plot_h + bottom
    parts = [
        f'<svg class="chart" id="time-chart" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}">'
    ]
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        y = top + plot_h * (1 - tick)
        parts.append(
            f'<line x1="{left}" x2="{width - 6}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">{_pct(tick)}</text>'
        )
    for i, p in enumerate(periods):
        x = left + gap / 2 + i * (bar + gap)
        total = p["total"]
        y = top + plot_h
        for label in LABELS:
            h = p["shares"][label] * plot_h
            if h <= 0:
                continue
            y -= h
            mark = marks.get((p["period"], label))
            stroke = ' stroke="#111" stroke-width="2.5"' if mark else ""
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar}" height="{h:.1f}" fill="{_COLOURS[label]}"'
                f"{stroke}><title>{_e(p['period'])} — {_e(_TITLES[label])}: {p['counts'][label]} of "
                f"{total} ({_pct(p['shares'][label])})</title></rect>"
            )
            if h >= 15:
                parts.append(
                    f'<text x="{x + bar / 2:.1f}" y="{y + h / 2 + 4:.1f}" text-anchor="middle" '
                    f'class="inbar">{p["counts"][label]}</text>'
                )
            if mark:
                cy = y + min(h / 2, 12)
                parts.append(
                    f'<circle cx="{x + bar:.1f}" cy="{cy:.1f}" r="8" class="mark"/>'
                    f'<text x="{x + bar:.1f}" y="{cy + 4:.1f}" text-anchor="middle" class="marktext">'
                    f"{mark}</text>"
                )
        parts.append(
            f'<text x="{x + bar / 2:.1f}" y="{top - 6}" text-anchor="middle" class="axis">n={total}</text>'
        )
        ly = top + plot_h + 16
        if rotate:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{ly}" text-anchor="end" class="axis" '
                f'transform="rotate(-45 {x + bar / 2:.1f} {ly})">{_e(p["period"])}</text>'
            )
        else:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{ly}" text-anchor="middle" class="axis">'
                f"{_e(p['period'])}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)


def _highlighted(entry):
    text, span = entry["text"], entry["evidence_span"]
    if not span:
        return _e(text)
    start, end = span
    return f"{_e(text[:start])}<mark>{_e(text[start:end])}</mark>{_e(text[end:])}"


def _who(entry):
    return f"{_e(entry['id'])} · row {entry['row']}" if entry.get("id") else f"row {entry['row']}"


_CSS = """
:root { --ink:#1d1d1f; --muted:#5f6368; --rule:#e3e3e3; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       color: var(--ink); margin: 0; background: #fafafa; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 48px; background: #fff; }
h1 { margin: 0 0 4px; font-size: 26px; }
h2 { margin: 36px 0 8px; font-size: 20px; border-bottom: 1px solid var(--rule); padding-bottom: 4px; }
h3 { margin: 22px 0 6px; font-size: 16px; }
p.sub, .explain, .count, footer { color: var(--muted); }
.explain { max-width: 860px; }
dl.facts { display: grid; grid-template-columns: repeat(5, auto); gap: 6px 28px; margin: 16px 0; }
dl.facts dt { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
dl.facts dd { margin: 0; font-weight: 600; }
ul.legend { list-style: none; padding: 0; display: flex; gap: 18px; flex-wrap: wrap; margin: 8px 0; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 6px;
          vertical-align: -1px; }
.chartbox { overflow-x: auto; }
svg.chart { display: block; margin: 8px 0; font-size: 12px; }
svg .axis { fill: var(--muted); font-size: 12px; }
svg .inbar { fill: #fff; font-size: 11px; font-weight: 600; }
svg .grid { stroke: var(--rule); }
svg .mark { fill: #111; }
svg .marktext { fill: #fff; font-size: 11px; font-weight: 700; }
table { border-collapse: collapse; margin: 8px 0 4px; font-size: 13px; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--rule); text-align: left; vertical-align: top; }
thead th { font-size: 12px; color: var(--muted); font-weight: 600; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
tr.small th, tr.small td { color: var(--muted); font-style: italic; }
td.shifted { font-weight: 700; }
.shift { font-size: 11px; }
ol.shifts li { margin: 4px 0; }
.labels { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 16px; }
.card { border: 1px solid var(--rule); border-top: 4px solid var(--c); border-radius: 6px; padding: 10px 14px; }
.card h3 { margin-top: 4px; }
ul.phrases { list-style: none; padding: 0; margin: 4px 0 10px; display: flex; flex-wrap: wrap; gap: 6px; }
ul.phrases li { background: #f1f3f4; border-radius: 12px; padding: 2px 10px; font-size: 13px; }
blockquote { margin: 8px 0; padding: 6px 10px; border-left: 3px solid var(--rule); white-space: pre-wrap;
             font-size: 13px; overflow-wrap: anywhere; }
blockquote .who { display: block; color: var(--muted); font-size: 11px; white-space: normal; }
mark { background: #fff1a8; padding: 0 1px; }
td.note { max-width: 560px; white-space: pre-wrap; overflow-wrap: anywhere; }
footer { margin-top: 40px; font-size: 12px; }
"""


def render_html(report):
    """One self-contained HTML page for a report made by :func:`build_report`.

    Inline SVG charts and CSS; no script, no fonts, no images and no
    network requests (a Content-Security-Policy forbids them), so the file
    can be mailed around and opened anywhere.  Every value taken from the
    data is HTML-escaped.
    """
    notes = report["notes"]
    model = report["model"] or {}
    if model.get("scored_by") == "input file":
        model_text = "scores read from the input (model not recorded)"
    else:
        model_text = model.get("path") or "an in-memory model"
        details = [
            f"created {model['created'][:10]}" if model.get("created") else None,
            f"trained on {model['training_rows']} notes" if model.get("training_rows") else None,
        ]
        details = [d for d in details if d]
        if details:
            model_text += f" ({', '.join(details)})"
    dr = report.get("date_range")
    if dr and dr.get("first"):
        range_text = f"{dr['first']} to {dr['last']}"
    else:
        range_text = "no date column given" if not dr else "no readable dates"
    source = report.get("source") or "scored notes"
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Why deals were lost — {_e(source)}</title>",
        f"<style>{_CSS}</style></head><body><main>",
        '<header id="summary"><h1>Why deals were lost</h1>',
        f'<p class="sub">{_e(source)}</p>',
        '<dl class="facts">',
        f'<div><dt>Model</dt><dd id="model">{_e(model_text)}</dd></div>',
        f'<div><dt>Notes</dt><dd id="n-notes">{notes["total"]}</dd></div>',
        f'<div><dt>Date range</dt><dd id="date-range">{_e(range_text)}</dd></div>',
        f'<div><dt>Empty notes</dt><dd id="empty">{notes["empty"]} ({_pct(notes["empty_share"])})</dd></div>',
        f'<div><dt>Truncated notes</dt><dd id="truncated">{notes["truncated"]} '
        f"({_pct(notes['truncated_share'])})</dd></div>",
        "</dl>",
        f'<p class="explain">Each note counts once, under its primary (deciding) reason. '
        f"{notes['empty']} empty notes carry no reason and are left out of every share below; "
        "truncated notes were read up to their first 100,000 characters.</p>",
        _legend(),
        "</header>",
    ]
    overall = report["overall"]
    out.append('<section id="overall"><h2>All notes</h2><div class="chartbox">')
    out.append(
        _hbar_svg(
            [("All notes", notes["counted"], overall["counts"], overall["shares"], False)],
            css_id="overall-chart",
        )
    )
    out.append("</div>")
    out.append(
        _share_table(
            [("All notes", notes["counted"], overall["counts"], overall["shares"], None)], "", "overall-table"
        )
    )
    out.append("</section>")

    out.append('<section id="over-time">')
    ot = report.get("over_time")
    if ot is None:
        out.append(
            '<h2>Reasons over time</h2><p class="explain">No date column was given; pass '
            "<code>--date-col</code> to see how the reasons change over time.</p>"
        )
    else:
        out.append(f"<h2>Reasons over time, by {_e(ot['freq'])}</h2>")
        undated = (dr or {}).get("undated", 0)
        if undated:
            out.append(
                f'<p class="explain">{undated} notes have no readable date in '
                f"<code>{_e(dr['column'])}</code> and are left out of this section.</p>"
            )
        if ot["periods"]:
            out.append(_legend())
            out.append(f'<div class="chartbox">{_time_svg(ot)}</div>')
        out.append(
            f"<p class=\"explain\">Bars show each reason's share of the {_e(ot['freq'])}'s notes, with counts "
            f"inside and the number of notes on top. A numbered black marker means a reason's share moved "
            f"beyond its usual range: compared with its pooled share over the previous {ot['window']} "
            f"{_e(ot['freq'])}s, a difference that large would arise by chance less than {ot['alpha']:.0%} of "
            f"the time (exact binomial test). Tested are {_e(ot['freq'])}s with at least {ot['min_notes']} "
            f"notes after at least {ot['min_history']} earlier {_e(ot['freq'])}s with notes.</p>"
        )
        if ot["shifts"]:
            items = "".join(
                f'<li data-period="{_e(s["period"])}" data-label="{_e(s["label"])}">{_e(s["message"])} '
                f'<span class="count">(p = {s["p_value"]:.2g})</span></li>'
                for s in ot["shifts"]
            )
            out.append(f'<ol class="shifts" id="shifts">{items}</ol>')
        else:
            out.append('<p id="shifts">No reason moved beyond its usual range.</p>')
        rows = [(p["period"], p["total"], p["counts"], p["shares"], None) for p in ot["periods"]]
        marks = {(sh["period"], sh["label"]): (k + 1, sh["direction"]) for k, sh in enumerate(ot["shifts"])}
        out.append(_share_table(rows, ot["freq"].capitalize(), "time-table", marks=marks))
    out.append("</section>")

    out.append('<section id="segments"><h2>Reasons by segment</h2>')
    if not report["segments"]:
        out.append(
            '<p class="explain">Pass <code>--by COLUMN</code> (region, rep, product line, deal '
            "size…) to compare segments.</p>"
        )
    for k, seg in enumerate(report["segments"]):
        column = seg["column"]
        note = " (cut into quartile bands)" if seg["banded"] else ""
        out.append(f"<h3>By {_e(column)}{_e(note)}</h3>")
        out.append(
            f'<p class="explain">Sorted by {"band" if seg["banded"] else "number of notes"}. Segments '
            f"with fewer than {seg['min_notes']} notes are faded and marked small: their shares "
            "can swing on a single note.</p>"
        )
        rows = [(r["value"], r["total"], r["counts"], r["shares"], r["small"]) for r in seg["rows"]]
        if len(rows) > _MAX_SEGMENTS_SHOWN:
            hidden = rows[_MAX_SEGMENTS_SHOWN:]
            rows = rows[:_MAX_SEGMENTS_SHOWN]
            out.append(
                f'<p class="explain">Showing the {_MAX_SEGMENTS_SHOWN} largest of {len(seg["rows"])} '
                f"segments; the other {len(hidden)} ({sum(r[1] for r in hidden)} notes) are in the JSON "
                "report (<code>--format json</code>).</p>"
            )
        out.append(f'<div class="chartbox">{_hbar_svg(rows, css_id=f"segment-chart-{k}")}</div>')
        out.append(_share_table(rows, column, f"segment-table-{k}", lambda small: "small" if small else None))
    out.append("</section>")

    out.append(
        '<section id="reasons"><h2>What each reason sounds like</h2>'
        '<p class="explain">Phrases are the words and word pairs most characteristic of notes with '
        "this primary reason compared with all other notes (weighted log-odds with an informative "
        "Dirichlet prior; counted once per note). Quotes are the notes scored most confidently "
        "for the reason, with the sentence that drove the decision highlighted.</p>"
        '<div class="labels">'
    )
    for label in LABELS:
        phrases = report["phrases"].get(label, [])
        out.append(
            f'<div class="card" id="reason-{label}" style="--c:{_COLOURS[label]}">'
            f'<h3>{_e(_TITLES[label])} <span class="count">({overall["counts"][label]} notes)</span></h3>'
        )
        if phrases:
            items = "".join(
                f'<li title="in {p["notes"]} {_e(_TITLES[label])} notes, {p["elsewhere"]} others">'
                f'{_e(p["phrase"])} <span class="count">{p["notes"]}</span></li>'
                for p in phrases
            )
            out.append(f'<ul class="phrases">{items}</ul>')
        else:
            out.append('<p class="explain">Too few notes for characteristic phrases.</p>')
        for entry in report["examples"].get(label, []):
            out.append(
                f'<blockquote><span class="who">{_who(entry)} · score {entry["score"]:.2f}</span>'
                f"{_highlighted(entry)}</blockquote>"
            )
        out.append("</div>")
    out.append("</div></section>")

    out.append(
        '<section id="uncertain"><h2>Notes the model was least sure about</h2>'
        '<p class="explain">The smallest gaps between the two highest reason scores: labelling these '
        "by hand teaches the model the most.</p>"
    )
    head = "".join(f"<th>{_e(_TITLES[label])}</th>" for label in LABELS)
    rows = []
    for entry in report["uncertain"]:
        cells = "".join(f'<td class="num">{entry["scores"][label]:.2f}</td>' for label in LABELS)
        rows.append(
            f'<tr><td>{_who(entry)}</td><td>{_e(entry["labels"])}</td><td class="num">'
            f'{entry["margin"]:.2f}</td>{cells}<td class="note">{_highlighted(entry)}</td></tr>'
        )
    out.append(
        f'<table id="uncertain-table"><thead><tr><th>Note</th><th>Labels</th><th>Gap</th>{head}'
        f"<th>Text</th></tr></thead><tbody>{''.join(rows)}</tbody></table></section>"
    )

    from . import __version__

    out.append(f"<footer>Made by objections {_e(__version__)} on {_e(report['generated'])}.</footer>")
    out.append("</main></body></html>\n")
    return "\n".join(out)


# -- files ------------------------------------------------------------------------


def _format_for(output, fmt):
    if fmt is not None:
        if fmt not in ("html", "json"):
            raise InputError(f"Unknown report format {fmt!r}; use html or json")
        return fmt
    return "json" if output is not None and str(output).lower().endswith(".json") else "html"


def write_report(report, output, fmt=None):
    """Write a report as HTML or JSON; ``-`` is standard output.

    The file appears under its name only when complete.

    Parameters
    ----------
    report : dict
        From :func:`build_report`.
    output : str or Path
    fmt : {"html", "json"}, optional
        Taken from the extension when omitted (``.json``, else HTML).
    """
    fmt = _format_for(output, fmt)
    text = render_json(report) if fmt == "json" else render_html(report)
    if str(output) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    target = Path(output)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp makes the file private; a report is an ordinary file.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def report_file(
    input,
    output=None,
    *,
    fmt=None,
    model=None,
    text_col="text",
    encoding="utf-8",
    on_bad_lines="error",
    **options,
):
    """Read a (scored) table, build its report and write it.

    Parameters
    ----------
    input : str or Path
        A table file (CSV, TSV, JSONL, Parquet, XLSX) or ``-``.
    output : str or Path, optional
        Default ``report.html`` (``report.json`` with ``fmt="json"``).
    fmt : {"html", "json"}, optional
    model : str, Path, ObjectionClassifier or None
        See :func:`build_report`.
    **options
        Passed to :func:`build_report` (``date_col``, ``by``, ``freq``,
        ``id_col``, ...).

    Returns
    -------
    report : dict
    output : str
        Where it was written.
    """
    from .io import check_output_path, read_table

    if output is None:
        output = "report.json" if fmt == "json" else "report.html"
    fmt = _format_for(output, fmt)
    check_output_path(output, [input])
    frame = read_table(input, encoding=encoding, on_bad_lines=on_bad_lines)
    if frame.empty and not len(frame.columns):
        raise InputError(f"{input} holds no rows; score some notes first")
    source = "standard input" if str(input) == "-" else os.path.basename(str(input))
    report = build_report(frame, model=model, text_col=text_col, source=source, **options)
    write_report(report, output, fmt)
    return report, str(output)
