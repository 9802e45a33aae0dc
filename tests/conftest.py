"""Shared fixtures: the corpus, the shipped model, and a small model trained here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "data" / "corpus.jsonl"
EXAMPLE_NOTES = ROOT / "data" / "example_notes.csv"


def read_corpus():
    with open(CORPUS, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.fixture(scope="session")
def corpus():
    """Every labelled example of data/corpus.jsonl, as dicts."""
    return read_corpus()


@pytest.fixture(scope="session")
def default_model():
    """The shipped default model."""
    import objections

    return objections.load()


@pytest.fixture(scope="session")
def small_training_set(corpus):
    """A balanced slice of the training split: 60 notes per label."""
    picked, per_label = [], {}
    for row in corpus:
        if row["split"] != "train":
            continue
        primary = row["labels"].split(";")[0]
        if per_label.get(primary, 0) < 60:
            per_label[primary] = per_label.get(primary, 0) + 1
            picked.append(row)
    return [r["text"] for r in picked], [r["labels"] for r in picked]


@pytest.fixture(scope="session")
def small_model(small_training_set):
    """A model trained in the test session on 240 corpus notes (seconds)."""
    from objections import ObjectionClassifier

    texts, labels = small_training_set
    return ObjectionClassifier(cv=3, char_ngrams=(3, 4)).fit(texts, labels)


@pytest.fixture(scope="session")
def small_model_dir(small_model, tmp_path_factory):
    """The small model saved as a model directory."""
    path = tmp_path_factory.mktemp("models") / "small"
    small_model.save(path)
    return path
