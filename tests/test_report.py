"""``objections report``: numbers checked by hand, the CLI, and the page in a real browser."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from objections.cli import cli
from objections.errors import InputError
from objections.labels import LABELS
from objections.report import build_report, render_html, write_report

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_NOTES = ROOT / "data" / "example_notes.csv"

# -- a scored table small enough to count by hand ------------------------------------
#
# 23 rows.  Row 11 is empty (its date, 2023-12, must not open the time
# range); row 18 has no date.  Counted: 22 notes.
#   2024-01: pitch 3, product_fit 1, none 1                 (5)
#   2024-02: pitch 2, product_fit 2, market 1               (5)
#   2024-03: pitch 1, market 5                              (6)  <- market jumps
#   2024-04: nothing                                        (0)
#   2024-05: pitch 2, product_fit 2, market 1               (5)
#   undated: pitch 1
TEXTS = {
    "pitch": "Not convinced it is worth it, they were not convinced by the business case.",
    "product_fit": "No SSO support and the export is too basic for their auditors.",
    "market": "Budget frozen after the merger; all new spend stopped.",
    "none": "Kickoff scheduled for Monday, contract signed.",
}
EVIDENCE = {
    "pitch": "Not convinced it is worth it, they were not convinced by the business case.",
    "product_fit": "No SSO support and the export is too basic for their auditors.",
    "market": "Budget frozen after the merger; all new spend stopped.",
    "none": "",
}
# (date, region, primary, note flag)
ROWS = [
    ("2024-01-03", "NA", "pitch", ""),
    ("2024-01-09", "NA", "pitch", ""),
    ("2024-01-15", "EMEA", "pitch", ""),
    ("2024-01-20", "EMEA", "product_fit", ""),
    ("2024-01-28", "NA", "none", ""),
    ("2024-02-02", "NA", "pitch", ""),
    ("2024-02-08", "EMEA", "pitch", ""),
    ("2024-02-14", "NA", "product_fit", ""),
    ("2024-02-20", "APAC", "product_fit", ""),
    ("2024-02-26", "NA", "market", ""),
    ("2023-12-15", "EMEA", "none", "empty"),
    ("2024-03-01", "NA", "market", ""),
    ("2024-03-05", "NA", "market", ""),
    ("2024-03-11", "EMEA", "market", ""),
    ("2024-03-18", "EMEA", "market", ""),
    ("2024-03-25", "APAC", "market", ""),
    ("2024-03-29", "NA", "pitch", "truncated"),
    ("", "EMEA", "pitch", ""),
    ("2024-05-02", "NA", "pitch", ""),
    ("2024-05-09", "EMEA", "pitch", ""),
    ("2024-05-16", "NA", "product_fit", ""),
    ("2024-05-23", "EMEA", "product_fit", ""),
    ("2024-05-30", "NA", "market", ""),
]


def hand_scored():
    """The table ``objections score`` would write for ROWS, with chosen scores."""
    records = []
    for i, (date, region, primary, flag) in enumerate(ROWS, start=1):
        scores = {label: 0.05 for label in LABELS}
        scores[primary] = 0.9 - 0.001 * i  # earlier rows score a little higher
        text = "" if flag == "empty" else TEXTS[primary]
        records.append(
            {
                "deal_id": f"D{i:02d}",
                "closed": date,
                "region": region,
                "amount": str(1000 * i),
                "text": text,
                "primary": primary,
                "labels": primary,
                **{f"score_{k}": v for k, v in scores.items()},
                "evidence": "" if flag == "empty" else EVIDENCE[primary],
                "note": flag,
            }
        )
    frame = pd.DataFrame(records)
    # Two notes the model hesitated over: row 17 (gap 0.03), row 9 (gap 0.10).
    frame.loc[16, ["score_pitch", "score_market"]] = [0.48, 0.45]
    frame.loc[8, ["score_product_fit", "score_pitch"]] = [0.60, 0.50]
    # The empty note's scores are all alike: it must still not be listed.
    frame.loc[10, [f"score_{k}" for k in LABELS]] = 0.2
    # Untrusted text: a note that tries to run a script.
    frame.loc[11, "text"] = "Budget frozen after the merger; all new spend stopped. <script>alert(1)</script>"
    frame.loc[11, "evidence"] = "Budget frozen after the merger; all new spend stopped."
    return frame


def binom_two_sided(k, n, p):
    """Two-sided exact binomial p-value: every outcome at most as likely as k."""
    pmf = [math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(n + 1)]
    return sum(q for q in pmf if q <= pmf[k] * (1 + 1e-7))


@pytest.fixture(scope="module")
def hand_report():
    return build_report(
        hand_scored(),
        date_col="closed",
        by=["region", "amount"],
        id_col="deal_id",
        source="hand.csv",
        uncertain=2,
    )


def test_header_counts_every_note_and_flags_empty_and_truncated(hand_report):
    assert hand_report["notes"] == {
        "total": 23,
        "counted": 22,
        "empty": 1,
        "empty_share": round(1 / 23, 4),
        "truncated": 1,
        "truncated_share": round(1 / 23, 4),
    }
    # The empty note (2023-12-15) does not open the range; the blank date is counted.
    assert hand_report["date_range"] == {
        "column": "closed",
        "first": "2024-01-03",
        "last": "2024-05-30",
        "undated": 1,
    }
    assert hand_report["model"]["scored_by"] == "input file"


def test_overall_shares_leave_empty_notes_out(hand_report):
    assert hand_report["overall"]["counts"] == {"pitch": 9, "product_fit": 5, "market": 7, "none": 1}
    assert hand_report["overall"]["shares"] == {
        "pitch": 0.4091,
        "product_fit": 0.2273,
        "market": 0.3182,
        "none": 0.0455,
    }


def test_periods_are_contiguous_with_counts_and_shares(hand_report):
    periods = hand_report["over_time"]["periods"]
    assert [p["period"] for p in periods] == ["2024-01", "2024-02", "2024-03", "2024-04", "2024-05"]
    assert [p["total"] for p in periods] == [5, 5, 6, 0, 5]
    assert [p["counts"] for p in periods] == [
        {"pitch": 3, "product_fit": 1, "market": 0, "none": 1},
        {"pitch": 2, "product_fit": 2, "market": 1, "none": 0},
        {"pitch": 1, "product_fit": 0, "market": 5, "none": 0},
        {"pitch": 0, "product_fit": 0, "market": 0, "none": 0},
        {"pitch": 2, "product_fit": 2, "market": 1, "none": 0},
    ]
    assert periods[2]["shares"] == {"pitch": 0.1667, "product_fit": 0.0, "market": 0.8333, "none": 0.0}
    assert periods[3]["shares"] == dict.fromkeys(LABELS, 0.0)
    assert (periods[0]["start"], periods[0]["end"]) == ("2024-01-01", "2024-01-31")


def test_only_the_market_jump_is_marked(hand_report):
    over_time = hand_report["over_time"]
    periods = over_time["periods"]
    # January has no history and February only one earlier month: not tested.
    assert periods[0]["usual"] is None and periods[1]["usual"] is None
    # March against January + February pooled (10 notes).
    assert periods[2]["usual"] == {"pitch": 0.5, "product_fit": 0.3, "market": 0.1, "none": 0.1}
    # May against January-April (16 notes; the empty April adds none).
    assert periods[4]["usual"] == {"pitch": 0.375, "product_fit": 0.1875, "market": 0.375, "none": 0.0625}
    [shift] = over_time["shifts"]
    assert (shift["period"], shift["label"], shift["direction"]) == ("2024-03", "market", "up")
    assert (shift["count"], shift["total"], shift["share"], shift["usual"]) == (5, 6, 0.8333, 0.1)
    assert shift["ratio"] == 8.33
    # The trailing share is smoothed by half a note: (1 + 0.5) / (10 + 1).
    assert shift["p_value"] == pytest.approx(binom_two_sided(5, 6, 1.5 / 11), rel=1e-2)
    assert shift["p_value"] < 0.01
    # The same test for March's other labels stays above 1%, as the report says.
    assert binom_two_sided(1, 6, 5.5 / 11) > 0.01 and binom_two_sided(0, 6, 3.5 / 11) > 0.01
    assert "Market shift: 83% of notes in 2024-03 (5 of 6)" in shift["message"]
    assert "10% over the previous 4 months" in shift["message"]


def test_segments_sorted_with_small_ones_flagged(hand_report):
    region = hand_report["segments"][0]
    assert region["column"] == "region" and not region["banded"]
    assert [(r["value"], r["total"], r["small"]) for r in region["rows"]] == [
        ("NA", 12, False),
        ("EMEA", 8, True),
        ("APAC", 2, True),
    ]
    assert region["rows"][0]["counts"] == {"pitch": 5, "product_fit": 2, "market": 4, "none": 1}
    assert region["rows"][1]["counts"] == {"pitch": 4, "product_fit": 2, "market": 2, "none": 0}
    assert region["rows"][1]["shares"] == {"pitch": 0.5, "product_fit": 0.25, "market": 0.25, "none": 0.0}
    assert region["rows"][2]["counts"] == {"pitch": 0, "product_fit": 1, "market": 1, "none": 0}


def test_amounts_are_cut_into_quartile_bands_in_order(hand_report):
    amount = hand_report["segments"][1]
    assert amount["banded"]
    # 22 amounts: 1k..10k and 12k..23k (row 11 is empty); quartiles 6.25k, 12.5k, 17.75k.
    assert [(r["value"], r["total"]) for r in amount["rows"]] == [
        ("1k–6.25k", 6),
        ("6.25k–12.5k", 5),
        ("12.5k–17.8k", 5),
        ("17.8k–23k", 6),
    ]
    # Rows 1-6: pitch, pitch, pitch, product_fit, none, pitch.
    assert amount["rows"][0]["counts"] == {"pitch": 4, "product_fit": 1, "market": 0, "none": 1}


def test_phrases_characterise_each_label(hand_report):
    market = {p["phrase"]: p for p in hand_report["phrases"]["market"]}
    assert market["budget frozen"]["notes"] == 7 and market["budget frozen"]["elsewhere"] == 0
    # "budget" alone occurs only inside "budget frozen": it adds nothing.
    assert "budget" not in market
    pitch = {p["phrase"] for p in hand_report["phrases"]["pitch"]}
    assert "not convinced" in pitch
    for label, phrases in hand_report["phrases"].items():
        for other, other_phrases in hand_report["phrases"].items():
            if other != label:
                assert not {p["phrase"] for p in phrases} & {p["phrase"] for p in other_phrases}


def test_examples_are_the_most_confident_notes_with_their_evidence(hand_report):
    market = hand_report["examples"]["market"]
    assert [e["id"] for e in market] == ["D10", "D12", "D13"]
    first = market[0]
    start, end = first["evidence_span"]
    assert first["text"][start:end] == EVIDENCE["market"]
    assert hand_report["examples"]["none"][0]["evidence_span"] is None


def test_least_sure_notes_by_gap_between_top_scores(hand_report):
    uncertain = hand_report["uncertain"]
    assert [(u["id"], u["margin"]) for u in uncertain] == [("D17", 0.03), ("D09", 0.1)]
    assert uncertain[0]["scores"]["pitch"] == 0.48


def test_no_date_column_means_no_time_section():
    report = build_report(hand_scored())
    assert report["over_time"] is None and report["date_range"] is None
    assert "--date-col" in render_html(report)


def test_weekly_and_quarterly_periods():
    quarters = build_report(hand_scored(), date_col="closed", freq="quarter")["over_time"]["periods"]
    assert [(p["period"], p["total"]) for p in quarters] == [("2024Q1", 16), ("2024Q2", 5)]
    weeks = build_report(hand_scored(), date_col="closed", freq="week")["over_time"]["periods"]
    assert weeks[0]["period"] == "2024-01-01" and weeks[0]["end"] == "2024-01-07"
    assert sum(p["total"] for p in weeks) == 21


# -- HTML ------------------------------------------------------------------------


class Page(HTMLParser):
    """Tags, ids and table cells of a page."""

    def __init__(self):
        super().__init__()
        self.tags = []
        self.ids = set()
        self.tables = {}
        self.row_classes = {}
        self._table = None
        self._cell = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "table":
            self._table = attrs.get("id")
            self.tables[self._table] = []
            self.row_classes[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
            self.row_classes[self._table].append(attrs.get("class"))
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[self._table][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def parse(text):
    page = Page()
    page.feed(text)
    return page


def resource_references(text):
    """Anything a browser would fetch: src/href/url()/@import pointing off the page."""
    return re.findall(
        r"""(?:\b(?:src|href|xlink:href|action|poster|srcset)\s*=\s*["']?\s*(?:https?:|//|ftp:))"""
        r"""|url\(\s*["']?\s*(?:https?:|//)|@import""",
        text,
        flags=re.I,
    )


def test_html_is_self_contained_and_escapes_notes(hand_report):
    text = render_html(hand_report)
    assert not resource_references(text)
    assert "<script" not in text.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "default-src 'none'" in text  # the browser refuses scripts and requests even so
    page = parse(text)
    assert sum(tag == "svg" for tag, _ in page.tags) == 4  # overall, over time, two segment charts
    assert {"time-chart", "time-table", "segment-table-0", "segment-table-1", "uncertain-table"} <= page.ids
    # The marked cell is shown in the table and on the chart.
    march = next(row for row in page.tables["time-table"] if row[0] == "2024-03")
    assert march == ["2024-03", "6", "17% (1)", "0% (0)", "▲1 83% (5)", "0% (0)"]
    assert sum(tag == "circle" for tag, _ in page.tags) == 1
    assert page.tables["segment-table-0"][1:] == [
        ["NA", "12", "42% (5)", "17% (2)", "33% (4)", "8% (1)"],
        ["EMEA", "8", "50% (4)", "25% (2)", "25% (2)", "0% (0)"],
        ["APAC", "2", "0% (0)", "50% (1)", "50% (1)", "0% (0)"],
    ]
    assert page.row_classes["segment-table-0"] == [None, None, "small", "small"]
    assert "<mark>Budget frozen after the merger; all new spend stopped.</mark>" in text


def test_evidence_is_found_across_line_breaks_and_long_notes_are_cut_around_it():
    frame = hand_scored()
    filler = "Lots of unrelated chatter about the weather. " * 40
    frame.loc[11, "text"] = filler + "Budget frozen after\nthe merger;  all new spend stopped." + filler
    frame.loc[11, "score_market"] = 0.99
    report = build_report(frame)
    entry = report["examples"]["market"][0]
    assert entry["row"] == 12
    start, end = entry["evidence_span"]
    assert " ".join(entry["text"][start:end].split()) == EVIDENCE["market"]
    assert len(entry["text"]) <= 610 and entry["text"].startswith("… ") and entry["text"].endswith(" …")


def test_write_report_is_atomic_and_picks_the_format(tmp_path, hand_report):
    write_report(hand_report, tmp_path / "r.json")
    assert json.loads((tmp_path / "r.json").read_text(encoding="utf-8")) == hand_report
    write_report(hand_report, tmp_path / "r.html")
    assert (tmp_path / "r.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html", "r.json"]


def test_bad_input_gives_an_actionable_error():
    frame = hand_scored()
    with pytest.raises(InputError, match="no column 'regoin'.*Did you mean --by 'region'"):
        build_report(frame, by=["regoin"], source="hand.csv")
    with pytest.raises(InputError, match="no readable dates"):
        build_report(frame, date_col="region")
    broken = frame.copy()
    broken.loc[3, "primary"] = "budget"
    with pytest.raises(InputError, match="Row 4 of column 'primary' holds 'budget'"):
        build_report(broken)
    with pytest.raises(InputError, match="lacks score_none"):
        build_report(frame.drop(columns="score_none"))


# -- the command ---------------------------------------------------------------------


@pytest.fixture
def scored_csv(tmp_path):
    path = tmp_path / "scored.csv"
    hand_scored().to_csv(path, index=False)
    return path


def test_cli_json_matches_the_library(tmp_path, scored_csv, hand_report):
    out = tmp_path / "report.json"
    result = CliRunner().invoke(
        cli,
        [
            "report",
            str(scored_csv),
            "-o",
            str(out),
            "--date-col",
            "closed",
            "--by",
            "region",
            "--by",
            "amount",
            "--id-col",
            "deal_id",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    for key in ("notes", "overall", "over_time", "segments", "phrases", "date_range"):
        assert data[key] == hand_report[key], key
    assert data["source"] == "scored.csv"
    assert "1 shift marked" in result.stderr


def test_cli_html_and_stdout(tmp_path, scored_csv, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    result = runner.invoke(
        cli, ["report", str(scored_csv), "--date-col", "closed", "--freq", "quarter", "-q"]
    )
    assert result.exit_code == 0, result.output
    page = (tmp_path / "report.html").read_text(encoding="utf-8")  # the default name
    assert "Reasons over time, by quarter" in page and not resource_references(page)
    result = runner.invoke(cli, ["report", str(scored_csv), "--format", "json", "-o", "-"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["notes"]["counted"] == 22


def test_cli_errors_name_the_problem(tmp_path, scored_csv):
    runner = CliRunner()
    result = runner.invoke(cli, ["report", str(scored_csv), "--by", "regoin", "-o", str(tmp_path / "r.html")])
    assert result.exit_code == 1
    assert "scored.csv has no column 'regoin'" in result.output and "--by 'region'" in result.output
    assert not (tmp_path / "r.html").exists()
    result = runner.invoke(cli, ["report", str(scored_csv), "-o", str(tmp_path / "missing" / "r.html")])
    assert result.exit_code == 1 and "does not exist" in result.output
    result = runner.invoke(cli, ["report", str(scored_csv), "-o", str(scored_csv)])
    assert result.exit_code == 1 and "is the input file" in result.output


def test_cli_scores_raw_notes_with_the_given_model(tmp_path, small_model, small_model_dir, corpus):
    rows = [r for r in corpus if r["split"] == "test"][:40]
    raw = tmp_path / "raw.csv"
    pd.DataFrame(
        {
            "id": [r["id"] for r in rows],
            "body": [r["text"] for r in rows],
            "register": [r["register"] for r in rows],
        }
    ).to_csv(raw, index=False)
    out = tmp_path / "r.json"
    result = CliRunner().invoke(
        cli,
        [
            "report",
            str(raw),
            "-o",
            str(out),
            "--model",
            str(small_model_dir),
            "--text-col",
            "body",
            "--by",
            "register",
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    predicted = list(small_model.predict([r["text"] for r in rows]))
    assert data["overall"]["counts"] == {label: predicted.count(label) for label in LABELS}
    assert data["model"]["path"] == str(small_model_dir) and data["model"]["scored_by"] == "this report"
    assert sum(r["total"] for r in data["segments"][0]["rows"]) == 40


# -- a real browser ----------------------------------------------------------------


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _run_chromium(browser, profile, *args):
    command = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        *args,
    ]
    env = {**os.environ, "HOME": str(profile)}
    return subprocess.run(command, capture_output=True, text=True, timeout=180, env=env, check=True)


def _png_pixels(path):
    """Width, height and the decompressed scanlines of a PNG."""
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    chunks, pos = [], 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if kind == b"IDAT":
            chunks.append(data[pos + 8 : pos + 8 + length])
        pos += 12 + length
    return width, height, zlib.decompress(b"".join(chunks))


@pytest.mark.skipif(
    _chromium() is None,
    reason="chromium is not installed (apt-get install chromium; "
    ".ci/run installs it): the report is not checked in a real browser",
)
@pytest.mark.skipif(not EXAMPLE_NOTES.exists(), reason="data/example_notes.csv is missing")
def test_report_renders_in_a_real_browser(tmp_path):
    browser = _chromium()
    runner = CliRunner()
    scored = tmp_path / "scored.csv"
    result = runner.invoke(cli, ["score", str(EXAMPLE_NOTES), "-o", str(scored), "-j", "1", "-q"])
    assert result.exit_code == 0, result.output
    options = [
        "--date-col",
        "closed_date",
        "--by",
        "region",
        "--by",
        "amount_usd",
        "--freq",
        "quarter",
        "--id-col",
        "deal_id",
        "-q",
    ]
    html_path, json_path = tmp_path / "report.html", tmp_path / "report.json"
    for out in (html_path, json_path):
        result = runner.invoke(cli, ["report", str(scored), "-o", str(out), *options])
        assert result.exit_code == 0, result.output
    data = json.loads(json_path.read_text(encoding="utf-8"))

    dom = _run_chromium(browser, tmp_path / "profile", "--dump-dom", html_path.as_uri()).stdout
    page = parse(dom)
    svgs = [attrs for tag, attrs in page.tags if tag == "svg"]
    assert len(svgs) == 1 + 1 + 2  # all notes, over time, region, amount bands
    assert sum(tag == "rect" for tag, _ in page.tags) >= 4 * len(data["over_time"]["periods"]) // 2
    assert f'<dd id="n-notes">{data["notes"]["total"]}</dd>' in dom
    first, last = data["date_range"]["first"], data["date_range"]["last"]
    assert f"{first} to {last}" in dom
    overall = page.tables["overall-table"][1]
    assert overall[1] == str(data["notes"]["counted"])
    assert [c.split("(")[-1].rstrip(")") for c in overall[2:]] == [
        str(data["overall"]["counts"][label]) for label in LABELS
    ]
    time_rows = {row[0]: row for row in page.tables["time-table"][1:]}
    assert list(time_rows) == [p["period"] for p in data["over_time"]["periods"]]
    for period in data["over_time"]["periods"]:
        row = time_rows[period["period"]]
        assert row[1] == str(period["total"])
        assert [c.split("(")[-1].rstrip(")") for c in row[2:]] == [str(period["counts"][k]) for k in LABELS]
    for shift in data["over_time"]["shifts"]:
        assert shift["message"].replace("×", "×") in dom.replace("&nbsp;", " ")
    region = {row[0]: row[1] for row in page.tables["segment-table-0"][1:]}
    assert region == {r["value"]: str(r["total"]) for r in data["segments"][0]["rows"]}
    assert len(page.tables["uncertain-table"]) == 1 + len(data["uncertain"])
    assert sum(tag == "mark" for tag, _ in page.tags) >= 3

    screenshot = tmp_path / "report.png"
    _run_chromium(
        browser,
        tmp_path / "profile",
        f"--screenshot={screenshot}",
        "--window-size=1280,4000",
        html_path.as_uri(),
    )
    width, height, pixels = _png_pixels(screenshot)
    assert (width, height) == (1280, 4000)
    assert len(set(pixels[::97])) > 20  # drawn, not a blank page
    artifacts = Path(os.environ.get("OBJECTIONS_ARTIFACTS", ROOT / "artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(screenshot, artifacts / "report.png")
