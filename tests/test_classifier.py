"""ObjectionClassifier and its numeric core as scikit-learn estimators."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
    parametrize_with_checks,
)

from objections import LABELS, OBJECTIONS, LabelError, ObjectionClassifier
from objections.multilabel import ThresholdedOneVsRest

# -- ThresholdedOneVsRest: the generic scikit-learn checks -------------------

_MULTI_LABEL = (
    "labels are not exclusive: there is one calibrated score column per label even with two "
    "classes, rows of predict_proba need not sum to one, and predict applies the tuned "
    "per-label thresholds instead of taking the argmax"
)
_CV_IS_FOLDS = (
    "cv takes a number of folds, not the explicit (train, test) splits this check passes; "
    "internal folds over repeated rows also differ from folds over weighted rows"
)


def _expected_failed_checks(estimator):
    return {
        "check_classifiers_train": _MULTI_LABEL,
        "check_classifiers_classes": _MULTI_LABEL,
        "check_sample_weight_equivalence_on_dense_data": _CV_IS_FOLDS,
        "check_sample_weight_equivalence_on_sparse_data": _CV_IS_FOLDS,
        "check_supervised_y_2d": (
            "a 2-d y is refused with an error rather than raveled: several labels are passed "
            "as ';'-separated strings, so a 2-d y would be read as an indicator matrix"
        ),
        "check_non_transformer_estimators_n_iter": (
            "max_iter is handed to the per-label LogisticRegression models; each records its own "
            "n_iter_ in estimators_, and labels constant in the data have no solver run at all"
        ),
    }


@parametrize_with_checks(
    [ThresholdedOneVsRest(cv=3)],
    expected_failed_checks=_expected_failed_checks,
    xfail_strict=True,
)
def test_thresholded_one_vs_rest_sklearn_checks(estimator, check):
    check(estimator)


def test_thresholded_one_vs_rest_multi_label_targets():
    # Each of three features signals one label; a row carries every label
    # whose feature is high, strongest first, as ";"-separated cells.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(150, 3))
    present = X > 0.3
    names = np.array(["a", "b", "c"])
    y = []
    for row, marks in zip(X, present):
        order = [k for k in np.argsort(-row) if marks[k]] or [int(np.argmax(row))]
        y.append(";".join(names[order]))
    clf = ThresholdedOneVsRest(cv=3).fit(X, y)
    assert clf.classes_.tolist() == ["a", "b", "c"]
    scores, primary, passing = clf.predict_labels(X)
    assert scores.shape == passing.shape == (150, 3)
    multi = np.array([";" in cell for cell in y])
    assert multi.sum() > 30
    # Rows with two or three labels get at least two back.
    assert (passing[multi].sum(axis=1) >= 2).mean() > 0.8
    assert (passing == present).mean() > 0.85
    primary_true = np.array([cell.split(";")[0] for cell in y])
    assert np.mean(clf.predict(X) == primary_true) > 0.9
    # The primary label is always among the labels that pass (no empty label here).
    assert passing[np.arange(150), primary][passing.any(axis=1)].all()


def test_thresholded_one_vs_rest_empty_label_wins_when_nothing_passes():
    X = np.array([[0.0, 1], [0, 2], [1, 0], [2, 0], [0, 0.1], [0.1, 0]] * 6)
    y = ["x", "x", "y", "y", "none", "none"] * 6
    clf = ThresholdedOneVsRest(cv=3, empty_label="none").fit(X, y)
    _, primary, passing = clf.predict_labels(X)
    is_none = clf.classes_[primary] == "none"
    # A row whose primary is the empty label has no other label passing.
    assert not passing[is_none].any()


# -- ObjectionClassifier: the API checks that apply to a text estimator -------


@pytest.mark.parametrize(
    "check",
    [
        check_no_attributes_set_in_init,
        check_parameters_default_constructible,
        check_get_params_invariance,
        check_set_params,
    ],
)
def test_objection_classifier_api_checks(check):
    check("ObjectionClassifier", ObjectionClassifier())


def test_init_builds_nothing():
    clf = ObjectionClassifier(char_ngrams=(3, 4), disable=("objections_negation",))
    assert vars(clf) == clf.get_params()


def test_clone_of_a_fitted_model_is_unfitted_with_the_same_params(small_model):
    copy = clone(small_model)
    assert copy.get_params() == small_model.get_params()
    assert not hasattr(copy, "model_")
    with pytest.raises(NotFittedError):
        copy.predict(["budget frozen"])


@pytest.fixture(scope="module")
def tiny_set(small_training_set):
    """30 single-label notes per label: enough for fast fits inside tests."""
    texts, labels = small_training_set
    picked, seen = [], {}
    for text, label in zip(texts, labels):
        if ";" in label or seen.get(label, 0) >= 30:
            continue
        seen[label] = seen.get(label, 0) + 1
        picked.append((text, label))
    return [t for t, _ in picked], [lab for _, lab in picked]


def _fast(**params):
    return ObjectionClassifier(cv=2, char_ngrams=None, **params)


def test_fit_returns_self_and_fitted_attributes_end_in_underscore(tiny_set):
    texts, labels = tiny_set
    clf = _fast()
    before = set(vars(clf))
    assert clf.fit(texts, labels) is clf
    added = set(vars(clf)) - before
    assert added, "fit set no attributes"
    assert all(name.endswith("_") for name in added), sorted(added)
    assert clf.classes_.tolist() == list(LABELS)
    assert set(clf.thresholds_) == set(LABELS)


def test_refit_with_other_params_changes_the_model(tiny_set):
    texts, labels = tiny_set
    a = _fast(C=0.1).fit(texts, labels)
    b = clone(a).set_params(C=10.0).fit(texts, labels)
    assert b.C == 10.0
    pa = a.predict_proba(texts[:5]).to_numpy()
    pb = b.predict_proba(texts[:5]).to_numpy()
    assert not np.allclose(pa, pb)


def _strip_html(texts):
    return [re.sub(r"<[^>]+>", " ", t) for t in texts]


def test_pipeline_with_a_text_cleaner_in_front(tiny_set):
    texts, labels = tiny_set
    html = [f"<div><p>{t}</p></div>" for t in texts]
    pipe = make_pipeline(FunctionTransformer(_strip_html), _fast())
    assert pipe.fit(html, labels) is pipe
    predicted = pipe.predict(html[:6])
    assert len(predicted) == 6
    assert set(predicted) <= set(LABELS)
    proba = pipe.predict_proba(html[:6])
    assert list(proba.columns) == list(LABELS)
    # The pipeline and the classifier fitted on the cleaned text agree.
    direct = _fast().fit(_strip_html(html), labels)
    np.testing.assert_allclose(proba.to_numpy(), direct.predict_proba(_strip_html(html[:6])).to_numpy())


def test_cross_val_predict(tiny_set):
    texts, labels = tiny_set
    folds = StratifiedKFold(2, shuffle=True, random_state=0)
    predicted = cross_val_predict(_fast(), texts, labels, cv=folds)
    assert len(predicted) == len(texts)
    assert set(predicted) <= set(LABELS)
    # Out-of-fold, on clearly written notes, a working model beats chance by far.
    accuracy = np.mean(np.asarray(predicted) == np.asarray(labels))
    assert accuracy > 0.5, accuracy


# -- predictions ---------------------------------------------------------------

NOTES = [
    "Budget frozen until Q3 after the acquisition; revisit in October.",
    "No SAML SSO, so their security team vetoed it.",
    "Champion liked it but the VP never saw the business case. Not a priority.",
    "Moved the demo to Thursday 2pm, adding their IT lead.",
    "Rep: any blockers?\nProspect: honestly the per-seat price doesn't work for our seasonal staff.",
    "Hi Dana,\n\nWe went with another vendor - they have offline mode.\n\nBest,\nSam\nSent from my iPhone",
    "",
    "   ",
    "<p>Their new CFO&nbsp;cut all new spend.</p>",
]


@pytest.fixture(scope="module")
def tagged(small_model):
    return small_model.tag(NOTES)


def test_predict_and_predict_proba_shapes(small_model):
    predicted = small_model.predict(NOTES)
    assert predicted.shape == (len(NOTES),)
    assert set(predicted) <= set(LABELS)
    proba = small_model.predict_proba(NOTES)
    assert isinstance(proba, pd.DataFrame)
    assert proba.shape == (len(NOTES), len(LABELS))
    assert list(proba.columns) == list(LABELS)
    assert ((proba.to_numpy() >= 0) & (proba.to_numpy() <= 1)).all()


def test_predict_agrees_with_tag(small_model, tagged):
    assert small_model.predict(NOTES).tolist() == [r["primary"] for r in tagged]
    proba = small_model.predict_proba(NOTES)
    for i, (text, result) in enumerate(zip(NOTES, tagged)):
        if text.strip():
            assert result["scores"] == pytest.approx(proba.iloc[i].to_dict())


def test_empty_notes_score_the_same_in_predict_proba_and_tag(small_model):
    empty = ["", "   ", None]
    proba = small_model.predict_proba(empty)
    for i, result in enumerate(small_model.tag(empty)):
        assert result["primary"] == "none"
        assert result["scores"] == pytest.approx(proba.iloc[i].to_dict())


def test_accepts_series_tuples_and_generators(small_model):
    expected = small_model.predict(NOTES[:3]).tolist()
    assert small_model.predict(pd.Series(NOTES[:3])).tolist() == expected
    assert small_model.predict(tuple(NOTES[:3])).tolist() == expected
    assert small_model.predict(t for t in NOTES[:3]).tolist() == expected


def test_missing_values_are_empty_notes(small_model):
    results = small_model.tag([None, float("nan"), ""])
    assert [r["note"] for r in results] == ["empty"] * 3
    assert results[0]["scores"] == results[2]["scores"]


def test_tag_invariants(tagged):
    for text, result in zip(NOTES, tagged):
        assert set(result) >= {"primary", "labels", "scores", "evidence", "note"}
        labels = result["labels"]
        assert result["primary"] in LABELS
        assert labels[0] == result["primary"]
        assert len(set(labels)) == len(labels)
        assert set(labels) <= set(LABELS)
        assert not ("none" in labels and len(labels) > 1), labels
        assert set(result["scores"]) == set(LABELS)
        assert all(0.0 <= s <= 1.0 for s in result["scores"].values())
        flat = " ".join(text.split())
        if result["primary"] == "none":
            assert result["evidence"] == ""
        if result["evidence"]:
            assert result["evidence"] in flat
        assert result["note"] == ("empty" if not text.strip() else "")


def test_secondary_labels_are_ordered_by_score(tagged):
    for result in tagged:
        secondary = result["labels"][1:]
        scores = [result["scores"][label] for label in secondary]
        assert scores == sorted(scores, reverse=True)


def test_secondary_labels_pass_their_thresholds(small_model, tagged):
    # The primary label comes from the primary-label model; every other
    # listed label is there because its presence score reached its threshold.
    thresholds = small_model.thresholds_
    for result in tagged:
        for label in result["labels"][1:]:
            assert label in OBJECTIONS
            assert result["scores"][label] >= thresholds[label]


def test_primary_is_the_most_probable_deciding_label(small_model, corpus):
    texts = [row["text"] for row in corpus[:40]]
    notes = small_model.process(texts)
    matrix = small_model.vectorizer_.transform(notes)
    deciding = small_model.model_.predict_primary_proba(matrix)
    np.testing.assert_allclose(deciding.sum(axis=1), 1.0)
    expected = small_model.model_.classes_[deciding.argmax(axis=1)]
    assert [r["primary"] for r in small_model.tag_notes(notes)] == expected.tolist()


def test_evidence_skips_quoted_and_signature_text(small_model):
    text = (
        "We went with another vendor because they support offline mode.\n\n"
        "Thanks,\nSam\n\nOn Mon, Mar 2, 2026 at 9:00 AM Dana <dana@vendor.io> wrote:\n"
        "> Our budget is frozen until next year."
    )
    result = small_model.tag([text])[0]
    assert result["primary"] != "none"
    assert result["evidence"].rstrip(".") == "We went with another vendor because they support offline mode"


def test_evidence_is_the_whole_sentence(small_model):
    text = "Loved the demo. Sadly our parent company froze all new vendor spend."
    result = small_model.tag([text])[0]
    assert result["evidence"] == "Sadly our parent company froze all new vendor spend."


def test_truncated_note_is_flagged(small_model):
    from objections.classifier import MAX_CHARS

    long_text = "They never saw the value. " * (MAX_CHARS // 20)
    assert len(long_text) > MAX_CHARS
    result = small_model.tag([long_text])[0]
    assert result["note"] == "truncated"
    assert result["primary"] in LABELS


def test_single_string_or_dataframe_is_refused(small_model):
    with pytest.raises(TypeError, match=r"\[text\]"):
        small_model.predict("budget frozen")
    with pytest.raises(TypeError, match="column"):
        small_model.predict(pd.DataFrame({"text": ["budget frozen"]}))


def test_explain(small_model):
    text = "No SAML SSO, so IT vetoed it. Budget wasn't the issue."
    e = small_model.explain(text, top=3)
    assert set(e) >= {"primary", "labels", "scores", "evidence", "thresholds", "terms", "note"}
    assert e["primary"] == small_model.predict([text])[0]
    assert e["thresholds"] == small_model.thresholds_
    assert set(e["terms"]) == set(LABELS)
    for terms in e["terms"].values():
        words = [t for t in terms if t[0] != "[character n-grams]"]
        assert len(words) <= 3
        values = [v for _, v in terms]
        assert values == sorted(values, reverse=True)
        for term, value in terms:
            assert isinstance(term, str)
            assert isinstance(value, float)
    # The terms are read from the text: negation-marked forms appear.
    all_terms = {t for terms in e["terms"].values() for t, _ in terms}
    assert all_terms, "no terms explained"
    if e["evidence"]:
        assert e["evidence"] in " ".join(text.split())


def test_explain_takes_one_text(small_model):
    with pytest.raises(TypeError):
        small_model.explain(["one", "two"])


# -- errors ----------------------------------------------------------------------


@pytest.mark.parametrize("method", ["predict", "predict_proba", "tag"])
def test_unfitted_model_raises_not_fitted(method):
    with pytest.raises(NotFittedError):
        getattr(ObjectionClassifier(), method)(["budget frozen"])


def test_unfitted_explain_raises_not_fitted():
    with pytest.raises(NotFittedError):
        ObjectionClassifier().explain("budget frozen")


def test_unknown_label_names_the_row():
    texts = ["budget frozen", "no SSO", "not convinced", "call moved"]
    labels = ["market", "product_fit", "budget", "none"]
    with pytest.raises(LabelError, match=r"row 2\b.*'budget'"):
        ObjectionClassifier().fit(texts, labels)


def test_none_mixed_with_an_objection_is_refused():
    with pytest.raises(LabelError, match="row 1"):
        ObjectionClassifier().fit(["budget frozen", "no SSO"], ["market", "none;pitch"])


def test_length_mismatch_is_refused():
    with pytest.raises(ValueError, match="2 texts but y has 3"):
        ObjectionClassifier().fit(["a", "b"], ["pitch", "market", "none"])


@pytest.mark.parametrize("rep_weight", [0.5, 0.3])
def test_scoring_vectors_equal_training_vectors(corpus, rep_weight):
    # Scoring builds a note's counts from its sentences; training from the
    # whole note.  Seller words weigh rep_weight in transcripts, and the two
    # must sum the same way (bit for bit), or scores drift from the model.
    from objections.features import NoteVectorizer

    texts = [row["text"] for row in corpus if row["register"] == "transcript"][:120]
    notes = ObjectionClassifier(rep_weight=rep_weight).process(texts)
    vectorizer = NoteVectorizer(char_weight=0.35)
    fitted = vectorizer.fit_transform(notes)
    assert (fitted != vectorizer.transform(notes)).nnz == 0
    # A numpy array of notes works as a list does.
    assert (fitted != vectorizer.transform(np.asarray(notes, dtype=object))).nnz == 0


def test_training_gives_the_same_model_whatever_the_number_of_jobs(corpus):
    from objections.training import train

    rows = [row for row in corpus if row["split"] == "train"][:240]
    texts, labels = [row["text"] for row in rows], [row["labels"] for row in rows]
    one, two = train(texts, labels, n_jobs=1), train(texts, labels, n_jobs=2)
    for attr in ("oof_scores_", "oof_primary_", "thresholds_", "calibration_"):
        np.testing.assert_array_equal(getattr(one.model_, attr), getattr(two.model_, attr))
    assert one.model_.primary_temperature_ == two.model_.primary_temperature_
    np.testing.assert_array_equal(one.model_.primary_estimator_.coef_, two.model_.primary_estimator_.coef_)
