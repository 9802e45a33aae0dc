"""Model directories: round trips, metadata, and refusing damaged or foreign models."""

from __future__ import annotations

import hashlib
import json
import shutil
from importlib import metadata

import numpy as np
import pytest

import objections
from objections import ModelError, ObjectionClassifier
from objections.labels import LABELS
from objections.persist import TRUSTED_TYPES, default_model_path, load, read_metadata

NOTES = [
    "Budget frozen until Q3 after the acquisition.",
    "No SAML SSO, so their security team vetoed it.",
    "Champion liked it but the VP never saw the business case.",
    "Moved the demo to Thursday 2pm.",
    "Rep: blockers?\nProspect: per-seat pricing doesn't fit our seasonal staff.",
    "",
]


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def model_copy(small_model_dir, tmp_path):
    """A private copy of the small model directory that a test may damage."""
    path = tmp_path / "model"
    shutil.copytree(small_model_dir, path)
    return path


def edit_metadata(path, change):
    meta_path = path / "metadata.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    change(meta)
    meta_path.write_text(json.dumps(meta), encoding="utf-8")


# -- round trip ------------------------------------------------------------------


def test_round_trip_gives_identical_scores(small_model, small_model_dir):
    loaded = load(small_model_dir)
    assert isinstance(loaded, ObjectionClassifier)
    np.testing.assert_array_equal(
        loaded.predict_proba(NOTES).to_numpy(), small_model.predict_proba(NOTES).to_numpy()
    )
    assert loaded.tag(NOTES) == small_model.tag(NOTES)
    assert loaded.explain(NOTES[1]) == small_model.explain(NOTES[1])
    assert loaded.get_params() == small_model.get_params()
    assert loaded.thresholds_ == small_model.thresholds_


def test_load_accepts_the_model_file_itself(small_model_dir):
    loaded = load(small_model_dir / "model.skops")
    assert loaded.metadata_ == read_metadata(small_model_dir)


def test_loaded_model_can_be_saved_again_and_still_matches(small_model, small_model_dir, tmp_path):
    again = load(small_model_dir).save(tmp_path / "again")
    np.testing.assert_array_equal(
        load(again).predict_proba(NOTES).to_numpy(), small_model.predict_proba(NOTES).to_numpy()
    )


def test_model_dir_holds_the_three_files(small_model_dir):
    names = {p.name for p in small_model_dir.iterdir()}
    assert {"model.skops", "metadata.json", "MODEL_CARD.md"} <= names
    # Nothing half-written is left beside it.
    assert not [p for p in small_model_dir.parent.iterdir() if p.name.startswith(".")]


# -- metadata ----------------------------------------------------------------------


def test_metadata_contents(small_model, small_model_dir):
    meta = read_metadata(small_model_dir)
    assert meta["labels"] == list(LABELS)
    assert meta["thresholds"] == small_model.thresholds_
    assert meta["spacy_pipeline"] == "blank:en"
    assert meta["disabled_components"] == []
    assert meta["sha256"] == sha256(small_model_dir / "model.skops")
    assert meta["params"]["cv"] == 3
    assert meta["params"]["char_ngrams"] == [3, 4]
    versions = meta["versions"]
    for dist in ("scikit-learn", "spacy", "skops", "numpy", "objections"):
        assert versions[dist] == metadata.version(dist)
    assert versions["python"]
    assert meta["created"]


def test_training_facts_and_metrics_are_recorded(small_model, tmp_path):
    training = {"rows": 240, "sha256": "ab" * 32, "sources": ["notes.csv"]}
    metrics = {"cross_validated": {"folds": 3, "macro_f1": 0.8}}
    path = small_model.save(tmp_path / "m", training=training, metrics=metrics)
    meta = read_metadata(path)
    assert meta["training"] == training
    assert meta["metrics"] == metrics
    card = (path / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "notes.csv" in card
    assert "macro_f1" in card
    for label in LABELS:
        assert f"| {label} |" in card
    assert load(path).metadata_["training"] == training


def test_disabled_components_are_recorded_and_reapplied(small_training_set, tmp_path):
    texts, labels = small_training_set
    clf = ObjectionClassifier(cv=2, char_ngrams=None, disable=("objections_negation",))
    clf.fit(texts[::3], labels[::3])
    path = clf.save(tmp_path / "ablation")
    meta = read_metadata(path)
    assert meta["disabled_components"] == ["objections_negation"]
    assert "objections_negation" in (path / "MODEL_CARD.md").read_text(encoding="utf-8")
    loaded = load(path)
    assert tuple(loaded.disable) == ("objections_negation",)
    np.testing.assert_array_equal(loaded.predict_proba(NOTES).to_numpy(), clf.predict_proba(NOTES).to_numpy())


# -- refusing what should not load ---------------------------------------------------


def test_missing_path(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        load(tmp_path / "nowhere")


@pytest.mark.parametrize("missing", ["metadata.json", "model.skops"])
def test_dir_missing_a_file(model_copy, missing):
    (model_copy / missing).unlink()
    with pytest.raises(ModelError, match="not a model directory"):
        load(model_copy)


def test_empty_dir(tmp_path):
    with pytest.raises(ModelError, match="not a model directory"):
        load(tmp_path)


def test_a_table_is_not_a_model(tmp_path):
    path = tmp_path / "notes.csv"
    path.write_text("text\nhello\n", encoding="utf-8")
    with pytest.raises(ModelError, match="is a file"):
        load(path)


def test_metadata_that_is_not_json(model_copy):
    (model_copy / "metadata.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelError, match="not valid JSON"):
        load(model_copy)


def test_checksum_mismatch(model_copy):
    model_file = model_copy / "model.skops"
    data = bytearray(model_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model_file.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="checksum") as info:
        load(model_copy)
    assert "model.skops" in str(info.value)


def test_truncated_model_file(model_copy):
    model_file = model_copy / "model.skops"
    model_file.write_bytes(model_file.read_bytes()[:1000])
    with pytest.raises(ModelError, match="checksum"):
        load(model_copy)


def test_library_version_mismatch(model_copy):
    edit_metadata(model_copy, lambda meta: meta["versions"].update({"scikit-learn": "0.1.0"}))
    with pytest.raises(ModelError) as info:
        load(model_copy)
    message = str(info.value)
    assert "scikit-learn 0.1.0" in message
    assert metadata.version("scikit-learn") in message
    assert "retrain" in message.lower()


def test_patch_version_difference_is_accepted(model_copy):
    def bump_patch(meta):
        major, minor = metadata.version("scikit-learn").split(".")[:2]
        meta["versions"]["scikit-learn"] = f"{major}.{minor}.999"

    edit_metadata(model_copy, bump_patch)
    assert isinstance(load(model_copy), ObjectionClassifier)


def test_format_version_mismatch(model_copy):
    edit_metadata(model_copy, lambda meta: meta.update({"format_version": 99}))
    with pytest.raises(ModelError, match="format version 99"):
        load(model_copy)


class Sneaky:
    """Stands for anything a model file should not be allowed to build."""

    def __init__(self):
        self.payload = "x"


def test_untrusted_types_are_refused(model_copy):
    import skops.io as sio

    model_file = model_copy / "model.skops"
    sio.dump({"model": load(model_copy), "extra": Sneaky()}, model_file)
    # A consistent checksum: the refusal must come from the type check.
    edit_metadata(model_copy, lambda meta: meta.update({"sha256": sha256(model_file)}))
    with pytest.raises(ModelError, match="trust") as info:
        load(model_copy)
    assert "Sneaky" in str(info.value)


def test_a_foreign_estimator_is_refused(model_copy):
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    model_file = model_copy / "model.skops"
    sio.dump(LogisticRegression().fit([[0.0], [1.0]], [0, 1]), model_file)
    edit_metadata(model_copy, lambda meta: meta.update({"sha256": sha256(model_file)}))
    with pytest.raises(ModelError, match="ObjectionClassifier"):
        load(model_copy)


def test_trusted_types_are_only_our_own_classes():
    # Everything else must come from skops' own reviewed defaults.
    assert all(name.startswith("objections.") for name in TRUSTED_TYPES)


# -- saving over things ---------------------------------------------------------------


def test_resave_replaces_the_model_and_keeps_init_py(small_model, tmp_path):
    path = tmp_path / "default"
    path.mkdir()
    (path / "__init__.py").write_text('"""The shipped model."""\n', encoding="utf-8")
    small_model.save(path, training={"run": 1})
    first = read_metadata(path)
    assert first["training"] == {"run": 1}

    small_model.save(path, training={"run": 2})
    second = read_metadata(path)
    assert second["training"] == {"run": 2}
    assert (path / "__init__.py").read_text(encoding="utf-8") == '"""The shipped model."""\n'
    assert {p.name for p in path.iterdir()} >= {
        "__init__.py",
        "model.skops",
        "metadata.json",
        "MODEL_CARD.md",
    }
    assert "run: 2" in (path / "MODEL_CARD.md").read_text(encoding="utf-8")
    # No temporary or old copies left beside it.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["default"]
    load(path)


def test_save_refuses_a_non_model_directory(small_model, tmp_path):
    path = tmp_path / "reports"
    path.mkdir()
    (path / "q3.xlsx").write_bytes(b"data")
    with pytest.raises(ModelError, match="not a model directory"):
        small_model.save(path)
    assert (path / "q3.xlsx").read_bytes() == b"data"


def test_save_refuses_a_file(small_model, tmp_path):
    path = tmp_path / "model.csv"
    path.write_text("text\n", encoding="utf-8")
    with pytest.raises(ModelError):
        small_model.save(path)
    assert path.read_text(encoding="utf-8") == "text\n"


def test_save_unfitted_is_refused(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        ObjectionClassifier().save(tmp_path / "m")
    assert not (tmp_path / "m").exists()


# -- the default model ---------------------------------------------------------------


def test_objections_model_env_var_chooses_the_default(small_model_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("OBJECTIONS_CONFIG", str(tmp_path / "config.json"))
    monkeypatch.setenv("OBJECTIONS_MODEL", str(small_model_dir))
    assert default_model_path() == small_model_dir
    assert objections.load().metadata_["sha256"] == read_metadata(small_model_dir)["sha256"]


def test_shipped_default_model_metadata(monkeypatch, tmp_path):
    monkeypatch.delenv("OBJECTIONS_MODEL", raising=False)
    monkeypatch.setenv("OBJECTIONS_CONFIG", str(tmp_path / "config.json"))
    path = default_model_path()
    meta = read_metadata(path)
    assert meta["labels"] == list(LABELS)
    assert meta["sha256"] == sha256(path / "model.skops")
    assert meta["training"]["rows"] > 1000
    assert (path / "MODEL_CARD.md").is_file()
