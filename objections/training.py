"""Training from labelled data, with checks and cross-validated metrics."""

from __future__ import annotations

import contextlib
import hashlib
import warnings
from collections import Counter

import joblib
import numpy as np
from sklearn.model_selection import StratifiedKFold

from .classifier import ObjectionClassifier
from .errors import InputError
from .evaluation import metrics
from .labels import parse_labels

__all__ = ["train", "cross_validate", "check_training_data", "data_hash", "MIN_PER_LABEL"]

#: Fewest examples (as primary label) a label needs to be learnt.
MIN_PER_LABEL = 8


def data_hash(texts, labels):
    """SHA-256 of the texts and labels, in order: identifies a training set."""
    h = hashlib.sha256()
    for text, label in zip(texts, labels):
        h.update(str(text).encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
        h.update(";".join(label).encode())
        h.update(b"\x1e")
    return h.hexdigest()


def check_training_data(texts, labels, min_per_label=MIN_PER_LABEL):
    """Validate training data; return labels as tuples.

    Raises
    ------
    InputError
        Length mismatch, a single label, or a label with too few examples.

    Warns
    -----
    UserWarning
        When the same text carries different labels in different rows.
    """
    if len(texts) != len(labels):
        raise InputError(f"{len(texts)} texts but {len(labels)} labels")
    labels = [lab if isinstance(lab, tuple) else parse_labels(lab, row=i + 1) for i, lab in enumerate(labels)]
    counts = Counter(lab[0] for lab in labels)
    if len(counts) < 2:
        only = next(iter(counts), "nothing")
        raise InputError(
            f"The training data has only one label ({only!r}, {len(labels)} rows); a model needs "
            "examples of at least two labels"
        )
    few = {label: n for label, n in counts.items() if n < min_per_label}
    if few:
        listed = ", ".join(f"{label!r} has {n}" for label, n in sorted(few.items()))
        raise InputError(
            f"Too few examples to learn from: {listed}; each label needs at least "
            f"{min_per_label} rows as primary label (add examples or drop that label's rows)"
        )
    seen = {}
    conflicts = 0
    for text, lab in zip(texts, labels):
        key = " ".join(str(text).lower().split())
        if key in seen and seen[key] != lab:
            conflicts += 1
        seen.setdefault(key, lab)
    if conflicts:
        warnings.warn(
            f"{conflicts} rows repeat a text that has different labels elsewhere; "
            "they are kept, but check them (objections check-labels finds such rows)",
            UserWarning,
            stacklevel=2,
        )
    return labels


def train(texts, labels, sample_weight=None, n_jobs=None, **params):
    """Fit an :class:`ObjectionClassifier` after checking the data.

    Parameters
    ----------
    texts : sequence of str
    labels : sequence of str or tuple
        Label cells (``"market;pitch"``) or tuples, primary first.
    sample_weight : array-like, optional
    n_jobs : int, optional
        Threads fitting the models (``-1``: every core); the model is the
        same whatever the number.  None keeps joblib's setting (one unless
        inside ``joblib.parallel_config``).
    **params
        Passed to :class:`ObjectionClassifier`.

    Returns
    -------
    ObjectionClassifier
    """
    texts = list(texts)
    labels = check_training_data(texts, list(labels))
    clf = ObjectionClassifier(**params)
    with fit_jobs(n_jobs):
        return clf.fit(texts, [";".join(lab) for lab in labels], sample_weight=sample_weight)


def fit_jobs(n_jobs):
    """Context in which model fits run on ``n_jobs`` threads (None: unchanged)."""
    if n_jobs is None:
        return contextlib.nullcontext()
    return joblib.parallel_config(n_jobs=n_jobs)


def cross_validate(texts, labels, cv=5, notes=None, groups=None, random_state=0, **params):
    """Out-of-fold predictions and metrics.

    Parameters
    ----------
    texts, labels : sequences
    cv : int
        Folds, stratified by primary label.
    notes : list of NoteFeatures, optional
        Already processed texts (saves running spaCy again).
    groups : sequence, optional
        A group per text (e.g. register); when given, each group is held
        out in turn instead of random folds.

    Returns
    -------
    results : list of dict
        Out-of-fold :meth:`ObjectionClassifier.tag_notes` results.
    report : dict
        :func:`objections.evaluation.metrics` of those results.
    """
    labels = [lab if isinstance(lab, tuple) else parse_labels(lab) for lab in labels]
    proto = ObjectionClassifier(**params)
    if notes is None:
        notes = proto.process(texts)
    primary = np.array([lab[0] for lab in labels])
    if groups is not None:
        groups = np.asarray(groups)
        splits = [(np.flatnonzero(groups != g), np.flatnonzero(groups == g)) for g in np.unique(groups)]
    else:
        splits = StratifiedKFold(cv, shuffle=True, random_state=random_state).split(primary, primary)
    results = [None] * len(notes)
    for train_idx, test_idx in splits:
        clf = ObjectionClassifier(**params).fit_features(
            [notes[i] for i in train_idx], [";".join(labels[i]) for i in train_idx]
        )
        for i, res in zip(test_idx, clf.tag_notes([notes[i] for i in test_idx])):
            results[i] = res
    return results, metrics(labels, results)


def _select_split(texts, labels, frame, split_col, split, path_desc):
    if split_col is None:
        return texts, labels, frame
    if split_col not in frame.columns:
        from .io import resolve_text_column

        resolve_text_column(frame.columns, split_col, path_desc, "split")
    mask = (frame[split_col].astype(str) == split).to_numpy()
    if not mask.any():
        values = sorted(frame[split_col].astype(str).unique())[:10]
        raise InputError(f"No rows have {split_col} == {split!r}; values found: {', '.join(values)}")
    idx = np.flatnonzero(mask)
    return [texts[i] for i in idx], [labels[i] for i in idx], frame.iloc[idx]


def train_files(paths, output, *, text_col="text", label_col="labels", split_col=None,
                spacy_model=None, cv=5, cv_report=True, encoding="utf-8", sample_weight=None,
                extra_training=None, **params):
    """Read labelled files, train, cross-validate and save a model directory.

    Returns
    -------
    dict
        ``path``, ``n`` and ``metrics`` (cross-validated, or ``{}``).
    """
    import datetime as _dt

    from .io import read_labelled

    texts, labels, frame = read_labelled(list(paths), text_col, label_col, encoding=encoding)
    texts, labels, frame = _select_split(texts, labels, frame, split_col, "train", ", ".join(map(str, paths)))
    labels = check_training_data(texts, labels)
    clf = ObjectionClassifier(spacy_model=spacy_model, cv=cv, **params)
    notes = clf.process(texts)
    report = {}
    if cv_report:
        _, report = cross_validate(texts, labels, cv=cv, notes=notes, spacy_model=spacy_model, **params)
    clf.fit_features(notes, [";".join(lab) for lab in labels], sample_weight=sample_weight)
    counts = Counter(lab[0] for lab in labels)
    training = {
        "sources": [str(p) for p in paths],
        "rows": len(texts),
        "sha256": data_hash(texts, labels),
        "primary_label_counts": dict(sorted(counts.items())),
        "multi_label_rows": sum(len(lab) > 1 for lab in labels),
        "split": f"{split_col} == 'train'" if split_col else "all rows",
        "trained": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if extra_training:
        training.update(extra_training)
    cv_metrics = {"cross_validated": {"folds": cv, **report}} if report else {}
    path = clf.save(output, training=training, metrics=cv_metrics)
    return {"path": path, "n": len(texts), "metrics": report, "model": clf}


def evaluate_file(clf, path, *, text_col="text", label_col="labels", split_col=None, split="test",
                  by=None, encoding="utf-8"):
    """Metrics of a model on a labelled file (see :func:`objections.evaluation.metrics`)."""
    from .io import read_labelled, resolve_text_column

    texts, labels, frame = read_labelled([path], text_col, label_col, encoding=encoding)
    texts, labels, frame = _select_split(texts, labels, frame, split_col, split, str(path))
    results = clf.tag(texts)
    report = metrics(labels, results)
    if by:
        resolve_text_column(frame.columns, by, path, "by")
        groups = frame[by].astype(str).to_numpy()
        report["by"] = {}
        for group in sorted(set(groups)):
            idx = np.flatnonzero(groups == group)
            sub = metrics([labels[i] for i in idx], [results[i] for i in idx])
            report["by"][group] = {"n": sub["n"], "macro_f1": sub["macro_f1"], "accuracy": sub["accuracy"]}
    return report
