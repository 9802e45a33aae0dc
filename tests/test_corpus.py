"""Checks on the labelled corpus and the example notes file.

The corpus is the training and test data of the default model, so the
properties its data card promises (size, balance, label mix, hard cases,
a stratified test split, no duplicates) are asserted here: a change to
``data/corpus.jsonl`` that breaks one of them fails the suite.
"""

from __future__ import annotations

import csv
import re
from collections import Counter, defaultdict
from datetime import date

import pytest
from conftest import CORPUS, EXAMPLE_NOTES

from objections.io import read_labelled

LABELS = {"pitch", "product_fit", "market", "none"}
REGISTERS = {"crm", "email", "transcript", "winloss"}
HARD_CASES = {"keyword_trap", "negation", "competitor_why", "price_type", "negative_none", "rep_vs_buyer"}
FIELDS = {"id", "text", "labels", "register", "hard_case", "split"}
EXAMPLE_COLUMNS = ["deal_id", "closed_date", "region", "rep", "product_line", "amount_usd", "text"]

# How far a register x primary-label cell's test share may drift from the
# overall test share before the split no longer counts as stratified.
STRATIFY_TOLERANCE = 0.05

_NAME = re.compile(r"\b[A-Z][\w'’.&-]*")
_DIGITS = re.compile(r"\d+")
_PUNCT = re.compile(r"[^\w\s]|_")


def fold(text):
    """Lower-case a note and collapse digit runs, punctuation and whitespace."""
    text = _DIGITS.sub(" 0 ", text.lower())
    return " ".join(_PUNCT.sub(" ", text).split())


def mask_names(text):
    """Fold a note after replacing every capitalised word with one placeholder.

    Capitalised words stand for names (people, companies, products), so two
    notes that differ only in who is named, the amounts and dates, or the
    formatting get the same key.
    """
    return fold(_NAME.sub(" N ", text))


def near_duplicate_keys(text):
    # Two keys, because masking names also masks capitalised ordinary words:
    # a case-only variant ("Closed Lost" / "closed lost") is caught by the
    # plain fold, a copy with the names and numbers swapped by the mask.
    return {("fold", fold(text)), ("names", mask_names(text))}


def primary(row):
    return row["labels"].split(";")[0]


def repeated(values):
    return sorted(value for value, n in Counter(values).items() if n > 1)


def test_near_duplicate_keys_catch_template_variants():
    # If this fails, the near-duplicate test below has gone blind.
    swapped = (
        "Closed Lost - Budget: Harwick Foods froze spend til Q3 2026. revisit w/ Dana in Oct!",
        "Closed Lost -- Budget:  Marlow Steel froze spend til Q1 2027; revisit w/ Priya in Jan",
    )
    recased = ("No SAML SSO, IT vetoed it (3 weeks in).", "no saml sso - it vetoed it, 12 weeks in")
    for a, b in (swapped, recased):
        assert near_duplicate_keys(a) & near_duplicate_keys(b)
    different = ("no SSO, so IT said no", "no SSO, so IT said yes")
    assert not near_duplicate_keys(different[0]) & near_duplicate_keys(different[1])


def test_every_row_has_the_documented_fields(corpus):
    bad = [row.get("id") for row in corpus if set(row) != FIELDS]
    assert not bad, f"rows with missing or extra fields: {bad[:10]}"
    empty = [row["id"] for row in corpus if not row["text"].strip()]
    assert not empty, f"rows with empty text: {empty[:10]}"


def test_ids_are_unique(corpus):
    dupes = repeated(row["id"] for row in corpus)
    assert not dupes, f"duplicate ids: {dupes[:10]}"


def test_no_exact_duplicate_texts(corpus):
    by_text = defaultdict(list)
    for row in corpus:
        by_text[row["text"]].append(row["id"])
    dupes = [ids for ids in by_text.values() if len(ids) > 1]
    assert not dupes, f"identical texts: {dupes[:10]}"


def test_no_near_duplicate_texts(corpus):
    by_form = defaultdict(list)
    for row in corpus:
        for key in near_duplicate_keys(row["text"]):
            by_form[key].append(row["id"])
    dupes = [ids for ids in by_form.values() if len(ids) > 1]
    assert not dupes, f"texts that differ only in names, numbers, case or punctuation: {dupes[:10]}"


def test_labels_are_known_and_none_stands_alone(corpus):
    for row in corpus:
        labels = row["labels"].split(";")
        assert set(labels) <= LABELS, f"{row['id']}: unknown label in {row['labels']!r}"
        assert len(labels) == len(set(labels)), f"{row['id']}: repeated label in {row['labels']!r}"
        if "none" in labels:
            assert labels == ["none"], f"{row['id']}: 'none' combined with an objection: {row['labels']!r}"


def test_the_library_reads_every_label():
    texts, labels, frame = read_labelled(CORPUS)
    assert len(texts) == len(frame) >= 2000
    assert {label for row in labels for label in row} == LABELS


def test_size_and_primary_label_balance(corpus):
    assert len(corpus) >= 2000
    counts = Counter(primary(row) for row in corpus)
    assert set(counts) == LABELS
    short = {label: n for label, n in counts.items() if n < 400}
    assert not short, f"primary labels with fewer than 400 rows: {short}"


def test_multi_label_share(corpus):
    share = sum(";" in row["labels"] for row in corpus) / len(corpus)
    assert share >= 0.15, f"only {share:.1%} of rows carry several labels"


def test_hard_case_share_and_tags(corpus):
    tags = Counter(row["hard_case"] for row in corpus)
    assert set(tags) - {""} <= HARD_CASES, f"unknown hard_case tags: {set(tags) - {''} - HARD_CASES}"
    assert set(tags) >= HARD_CASES, f"hard_case tags never used: {HARD_CASES - set(tags)}"
    share = 1 - tags[""] / len(corpus)
    assert share >= 0.30, f"only {share:.1%} of rows are hard cases"


def test_every_register_has_a_fair_share(corpus):
    counts = Counter(row["register"] for row in corpus)
    assert set(counts) == REGISTERS
    small = {reg: f"{n / len(corpus):.1%}" for reg, n in counts.items() if n / len(corpus) < 0.15}
    assert not small, f"registers under 15% of rows: {small}"


def test_test_split_is_large_enough_and_stratified(corpus):
    assert {row["split"] for row in corpus} == {"train", "test"}
    overall = sum(row["split"] == "test" for row in corpus) / len(corpus)
    assert overall >= 0.20, f"test split is only {overall:.1%} of rows"

    cells = defaultdict(list)
    for row in corpus:
        cells[row["register"], primary(row)].append(row["split"] == "test")
    assert len(cells) == len(REGISTERS) * len(LABELS), "some register x primary label cell is empty"
    off = {
        f"{reg}/{label}": f"{sum(flags) / len(flags):.1%}"
        for (reg, label), flags in cells.items()
        if abs(sum(flags) / len(flags) - overall) > STRATIFY_TOLERANCE
    }
    assert not off, f"test share differs from the overall {overall:.1%} by more than 5 points in: {off}"


@pytest.fixture(scope="module")
def example_rows():
    with open(EXAMPLE_NOTES, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        return reader.fieldnames, list(reader)


def test_example_notes_columns_and_ids(example_rows):
    columns, rows = example_rows
    assert columns == EXAMPLE_COLUMNS
    assert len(rows) >= 50
    assert all(len(row) == len(EXAMPLE_COLUMNS) and None not in row for row in rows)
    ids = [row["deal_id"] for row in rows]
    assert not repeated(ids), f"duplicate deal_ids: {repeated(ids)}"
    assert all(re.fullmatch(r"D-\d{5}", deal_id) for deal_id in ids), "deal_ids lost their D-00000 form"


def test_example_notes_values(example_rows):
    _, rows = example_rows
    dates = [date.fromisoformat(row["closed_date"]) for row in rows]
    assert date(2025, 1, 1) <= min(dates) and max(dates) <= date(2026, 10, 31)
    assert {row["region"] for row in rows} == {"NA", "EMEA", "APAC", "LATAM"}
    assert all(float(row["amount_usd"]) > 0 for row in rows)
    # The scorer's empty-text path is part of what the example shows.
    assert sum(not row["text"].strip() for row in rows) >= 1
    assert any("\n" in row["text"] for row in rows), "no multi-line note survived CSV quoting"
