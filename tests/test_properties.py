"""Properties that hold for any text and any table (hypothesis).

Whatever a CRM export holds (emoji, right-to-left scripts, control
characters, NUL, combining marks, a pasted log line with no spaces),
``tag`` answers with a label and finite scores; and ``score`` gives back
the input's rows, in order, with the input's columns untouched.
"""

from __future__ import annotations

import csv
import json
import math
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from objections import LABELS
from objections.classifier import MAX_CHARS
from objections.scoring import RESULT_COLUMNS, score_file, score_frame

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: Pieces real exports contain and tokenizers trip on.
AWKWARD = [
    "\U0001f600",  # emoji
    "\U0001f469\u200d\U0001f469\u200d\U0001f467",  # family: zero-width joiners
    "\U0001f1e9\U0001f1ea",  # a flag: regional indicators
    "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645",  # Arabic
    "\u05e9\u05dc\u05d5\u05dd",  # Hebrew
    "\u202e\u202d\u200f\u200e",  # bidi overrides and marks
    "\u200b\ufeff\u00ad",  # zero-width space, BOM, soft hyphen
    "\x00",
    "\x07\x1b[31m\x7f",
    "e\u0301\u0327\u0308",  # stacked combining marks
    "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334",
    "\r\n\r",
    "\t\v\f",
    "\u2028\u2029",
    "\ud835\udd4f".encode("utf-16", "surrogatepass").decode("utf-16"),  # a maths letter, astral
    "Rep: ",
    "\nProspect: ",
    "not ",
    "didn't ",
    "budget frozen after the merger",
    "no SSO so security said no",
    "we went with Calloway",
    "> On Tue, Ann wrote:\n> ",
    "--\nSent from my iPhone",
]

long_token = st.builds(
    lambda ch, n: ch * n,
    st.sampled_from(["a", "x", "\u00e9", "\U0001f600", "\u0645", "0", "-", "\x00"]),
    st.integers(1_000, MAX_CHARS + 20_000),
)
piece = st.one_of(
    st.text(max_size=40),
    st.text(st.characters(codec="utf-8"), max_size=40),
    st.sampled_from(AWKWARD),
    st.sampled_from(AWKWARD),
    long_token,
)
texts = st.lists(piece, max_size=6).map("".join)


def _check_result(result, text):
    assert result["primary"] in LABELS
    assert result["labels"][0] == result["primary"]
    assert set(result["labels"]) <= set(LABELS)
    assert len(set(result["labels"])) == len(result["labels"])
    assert set(result["scores"]) == set(LABELS)
    for score in result["scores"].values():
        assert math.isfinite(score) and 0.0 <= score <= 1.0
    assert isinstance(result["evidence"], str)
    expected_note = "empty" if not text.strip() else "truncated" if len(text) > MAX_CHARS else ""
    assert result["note"] == expected_note
    if expected_note == "empty":
        assert result["primary"] == "none"


@SETTINGS
@given(batch=st.lists(texts, min_size=1, max_size=4))
def test_tag_never_raises_on_any_unicode(small_model, batch):
    results = small_model.tag(batch)
    assert len(results) == len(batch)
    for result, text in zip(results, batch):
        _check_result(result, text)


@SETTINGS
@given(text=texts)
def test_explain_never_raises_on_any_unicode(small_model, text):
    result = small_model.explain(text, top=3)
    _check_result(result, text)
    assert set(result["terms"]) == set(LABELS)


# -- tables ---------------------------------------------------------------------------------

column_names = st.text(min_size=1, max_size=12).filter(
    lambda name: name not in RESULT_COLUMNS and name != "text" and not name.startswith("\ufeff")
)
cell = st.one_of(
    st.none(), st.integers(-(2**40), 2**40), st.floats(allow_nan=True), st.booleans(), st.text(max_size=20)
)
text_cell = st.one_of(st.none(), st.just(float("nan")), st.just(""), st.just("  \n"), texts)


@st.composite
def frames(draw, other=cell, text=text_cell, max_rows=8):
    """A table with a ``text`` column somewhere among up to three other columns."""
    names = draw(st.lists(column_names, unique=True, max_size=3))
    names.insert(draw(st.integers(0, len(names))), "text")
    rows = draw(st.integers(0, max_rows))
    data = {
        name: draw(st.lists(text if name == "text" else other, min_size=rows, max_size=rows))
        for name in names
    }
    frame = pd.DataFrame(
        {name: pd.Series(values, dtype=object) for name, values in data.items()}, columns=names
    )
    index = draw(
        st.sampled_from(
            [None, list(range(rows))[::-1], [f"r{i % 3}" for i in range(rows)], [10 * i for i in range(rows)]]
        )
    )
    if index is not None:
        frame.index = index
    return frame


@SETTINGS
@given(frame=frames())
def test_score_frame_keeps_rows_order_and_columns(small_model, frame):
    before = frame.copy()
    out = score_frame(small_model, frame, text_col="text")
    pd.testing.assert_frame_equal(frame, before)  # the input is not modified
    assert list(out.columns) == list(frame.columns) + RESULT_COLUMNS
    pd.testing.assert_frame_equal(out[list(frame.columns)], frame)
    assert out["primary"].isin(LABELS).all()
    for label in LABELS:
        assert out[f"score_{label}"].between(0, 1).all()


# Text files hold text: cells are strings.  Control bytes other than tab and
# line ends are left out because a table whose first 4 KiB are full of them is
# refused as binary on purpose (see tests/test_errors.py).
printable = st.characters(codec="utf-8", exclude_categories=("Cc",)) | st.sampled_from("\t\n\r")
str_text = st.lists(
    st.one_of(st.text(printable, max_size=30), st.sampled_from(AWKWARD[:7] + AWKWARD[9:])), max_size=4
).map("".join)
str_names = st.text(printable, min_size=1, max_size=12).filter(
    lambda name: name not in RESULT_COLUMNS and name != "text" and not name.startswith("\ufeff")
)


@st.composite
def string_frames(draw, max_rows=8):
    names = draw(st.lists(str_names, unique=True, max_size=3))
    names.insert(draw(st.integers(0, len(names))), "text")
    rows = draw(st.integers(0, max_rows))
    return pd.DataFrame(
        {name: draw(st.lists(str_text, min_size=rows, max_size=rows)) for name in names},
        columns=names,
        dtype=str,
    )


# pandas writes a lone carriage return unquoted with "\n" line ends, which
# makes a CSV no reader can split right; these styles quote it.
csv_styles = st.sampled_from(
    [
        {"lineterminator": "\r\n"},
        {"lineterminator": "\n", "quoting": csv.QUOTE_ALL},
        {"sep": "\t", "lineterminator": "\r\n"},
    ]
)


@SETTINGS
@given(frame=string_frames(), style=csv_styles)
def test_score_file_csv_keeps_rows_order_and_columns(small_model, frame, style):
    suffix = ".tsv" if style.get("sep") == "\t" else ".csv"

    def write(frame, path):
        frame.to_csv(path, index=False, **style)

    def read(path):
        return pd.read_csv(path, dtype=str, keep_default_na=False, sep="\t" if suffix == ".tsv" else ",")

    stats, before, after = _round_trip(small_model, frame, suffix, write, read)
    pd.testing.assert_frame_equal(before, frame)  # (pandas itself reads the input back whole)
    assert stats.rows == len(frame)
    assert list(after.columns) == list(frame.columns) + RESULT_COLUMNS
    pd.testing.assert_frame_equal(after[list(frame.columns)], frame)


def _read_csv(path):
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _round_trip(small_model, frame, suffix, write, read):
    with tempfile.TemporaryDirectory() as tmp:
        source, out = Path(tmp) / f"in{suffix}", Path(tmp) / f"out{suffix}"
        write(frame, source)
        stats = score_file(small_model, source, out, text_col="text", jobs=1, chunksize=3)
        # Nothing but the output is left beside the input.
        assert sorted(p.name for p in Path(tmp).iterdir()) == sorted([source.name, out.name])
        return stats, read(source), read(out)


@SETTINGS
@given(frame=frames(other=st.one_of(st.none(), st.integers(-(2**40), 2**40), st.text(max_size=20))))
def test_score_file_jsonl_keeps_rows_order_and_fields(small_model, frame):
    def write(frame, path):
        path.write_text(frame.to_json(orient="records", lines=True) if len(frame) else "", encoding="utf-8")

    def read(path):
        # split on newlines only: U+2028 and friends may stand raw inside JSON strings
        lines = path.read_text(encoding="utf-8").split("\n")
        return [json.loads(line) for line in lines if line.strip()]

    stats, records_in, records_out = _round_trip(small_model, frame, ".jsonl", write, read)
    assert stats.rows == len(records_in) == len(records_out)
    for before, after in zip(records_in, records_out):
        assert list(after)[: len(before)] == list(before)
        assert {key: after[key] for key in before} == before
        assert after["primary"] in LABELS


@st.composite
def typed_frames(draw, max_rows=8):
    """A Parquet-shaped table: each column has one type, any cell may be missing."""
    kinds = {
        "int": st.integers(-(2**40), 2**40),
        "float": st.floats(allow_nan=True, allow_infinity=True),
        "bool": st.booleans(),
        "str": st.text(max_size=20),
    }
    names = draw(st.lists(column_names, unique=True, max_size=3))
    rows = draw(st.integers(1, max_rows))
    data = {}
    for name in names:
        kind = draw(st.sampled_from(sorted(kinds)))
        values = draw(st.lists(st.one_of(st.none(), kinds[kind]), min_size=rows, max_size=rows))
        dtype = {"int": "Int64", "float": "float64", "bool": "boolean", "str": object}[kind]
        data[name] = pd.Series(values, dtype=dtype)
    data["text"] = pd.Series(draw(st.lists(text_cell, min_size=rows, max_size=rows)), dtype=object)
    order = list(data)
    order.insert(draw(st.integers(0, len(names))), order.pop())
    return pd.DataFrame(data, columns=order)


@SETTINGS
@given(frame=typed_frames())
def test_score_file_parquet_keeps_rows_order_and_columns(small_model, frame):
    def write(frame, path):
        frame.to_parquet(path, index=False)

    stats, before, after = _round_trip(small_model, frame, ".parquet", write, pd.read_parquet)
    assert stats.rows == len(before)
    assert list(after.columns) == list(before.columns) + RESULT_COLUMNS
    pd.testing.assert_frame_equal(after[list(before.columns)], before)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_score_file_empty_table_keeps_its_columns(small_model, suffix, tmp_path):
    frame = pd.DataFrame({"id": pd.Series([], dtype=str), "text": pd.Series([], dtype=str)})
    source, out = tmp_path / f"in{suffix}", tmp_path / f"out{suffix}"
    if suffix == ".csv":
        frame.to_csv(source, index=False)
    elif suffix == ".parquet":
        frame.to_parquet(source, index=False)
    else:
        source.write_text("", encoding="utf-8")
    stats = score_file(small_model, source, out, text_col="text", jobs=1)
    assert stats.rows == 0
    if suffix == ".csv":
        assert list(_read_csv(out).columns) == ["id", "text"] + RESULT_COLUMNS
    elif suffix == ".parquet":
        assert list(pd.read_parquet(out).columns) == ["id", "text"] + RESULT_COLUMNS
    else:
        assert out.read_text() == ""


# -- the fast regex paths find exactly what the plain patterns find -----------

#: Pieces that exercise the placeholder and dismissal patterns, and the
#: characters case-insensitive matching treats specially.
PATTERN_PIECES = [
    "$45k", "USD 1,200", "12.5%", "Q3", "FY'24", "fy 2025", "H2", "EOQ", "yoy",
    "Sept. 3", "3rd March", "2026-11-26", "11/26/2026", "+44 20 7946 0958",
    "(555) 123-4567", "3x", "1st", "https://x.io/a?b=1", "WWW.Acme.com",
    "dana.lee+crm@acme-corp.co.uk", "@", "@@x.io", "budget isn't the issue",
    "Price WASN'T a concern", "no concerns about security", "not worried about",
    "had nothing to do with", "is fine", "ARE GOOD", "is not what's holding",
    "\u017f", "\u0131", "\u0130", "\u212a", "\u00df", "K", "9", "\u0663", " ", "\n",
    "september", "twenty", "x" * 20, "  ", ".",
    "\nOn Tue, Mar 3, 2026 at 10:14 AM Dana <d@x.io> WROTE:\n", "\nLe lun. a écrit :", "\n-- \n",
    "\n-----Original Message-----", "\nFROM: Dana\nSent: Monday", "\nBest,\n", "\nKind Regards\n",
    "\nMit freundlichen Grüßen\n", "Confidentiality Notice", "UNSUBSCRIBE",
]


@SETTINGS
@given(st.lists(st.sampled_from(PATTERN_PIECES) | st.text(max_size=6), max_size=25).map("".join))
def test_placeholder_windows_match_full_scan(text):
    from objections.preprocess import _PLACEHOLDER_RE, _placeholder_matches

    fast = [(m.span(), m.lastgroup) for m in _placeholder_matches(text)]
    assert fast == [(m.span(), m.lastgroup) for m in _PLACEHOLDER_RE.finditer(text)]


@SETTINGS
@given(st.lists(st.sampled_from(PATTERN_PIECES) | st.text(max_size=6), max_size=25).map("".join))
def test_lowercase_twins_match_case_insensitive_patterns(text):
    from objections import preprocess as P

    for pattern, twin in [
        (P._DISMISS_BACKWARD, P._DISMISS_BACKWARD_CS),
        (P._DISMISS_FORWARD, P._DISMISS_FORWARD_CS),
        (P._DISCLAIMER, P._DISCLAIMER_CS),
        (P._AUTO, P._AUTO_CS),
        (P._SIGNOFF, P._SIGNOFF_CS),
        *P._HINTS,
    ]:
        fast = [m.span() for m in P._finditer_nocase(pattern, twin, text)]
        assert fast == [m.span() for m in pattern.finditer(text)]
