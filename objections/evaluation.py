"""Metrics: primary-label F1, label-set F1, confusion matrix, calibration."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

from .labels import LABELS, OBJECTIONS

__all__ = ["metrics", "expected_calibration_error", "format_metrics"]


def expected_calibration_error(scores, present, bins=10):
    """ECE: mean gap between score and observed frequency over equal-width bins.

    Examples
    --------
    >>> round(expected_calibration_error([0.9, 0.9, 0.1, 0.1], [1, 1, 0, 0]), 2)
    0.1
    """
    scores = np.asarray(scores, dtype=float)
    present = np.asarray(present, dtype=float)
    if not len(scores):
        return float("nan")
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(scores, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.sum() * abs(scores[mask].mean() - present[mask].mean())
    return float(total / len(scores))


def metrics(true_labels, results):
    """Compare predictions with gold labels.

    Parameters
    ----------
    true_labels : list of tuple of str
        Gold labels per text, primary first.
    results : list of dict
        Output of :meth:`ObjectionClassifier.tag` (``primary``, ``labels``,
        ``scores``).

    Returns
    -------
    dict
        ``n``, ``macro_f1`` and ``accuracy`` of the primary label,
        ``per_label`` precision/recall/F1/support, ``confusion`` (rows are
        gold, columns predicted, in ``labels`` order), ``label_set``
        (macro-F1 over objection labels present/absent, counting
        secondary labels), and ``calibration`` (Brier score and ECE per
        label).
    """
    y_true = [labels[0] for labels in true_labels]
    y_pred = [r["primary"] for r in results]
    p, r, f, s = precision_recall_fscore_support(
        y_true, y_pred, labels=list(LABELS), zero_division=0
    )
    per_label = {
        label: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4),
                "f1": round(float(f[i]), 4), "support": int(s[i])}
        for i, label in enumerate(LABELS)
    }
    present_labels = [label for label in LABELS if per_label[label]["support"] > 0]
    macro = f1_score(y_true, y_pred, labels=present_labels, average="macro", zero_division=0)
    gold_sets = np.array([[label in labels for label in LABELS] for labels in true_labels])
    pred_sets = np.array([[label in res["labels"] for label in LABELS] for res in results])
    scores = np.array([[res["scores"][label] for label in LABELS] for res in results])
    obj = [LABELS.index(label) for label in OBJECTIONS]
    set_f1 = f1_score(gold_sets[:, obj], pred_sets[:, obj], average="macro", zero_division=0)
    calibration = {}
    for j, label in enumerate(LABELS):
        calibration[label] = {
            "brier": round(float(np.mean((scores[:, j] - gold_sets[:, j]) ** 2)), 4),
            "ece": round(expected_calibration_error(scores[:, j], gold_sets[:, j]), 4),
        }
    return {
        "n": len(y_true),
        "macro_f1": round(float(macro), 4),
        "accuracy": round(float(np.mean(np.array(y_true) == np.array(y_pred))), 4),
        "per_label": per_label,
        "confusion": {
            "labels": list(LABELS),
            "matrix": confusion_matrix(y_true, y_pred, labels=list(LABELS)).tolist(),
        },
        "label_set_macro_f1": round(float(set_f1), 4),
        "calibration": calibration,
    }


def format_metrics(m):
    """A plain-text report of :func:`metrics` output."""
    lines = [f"notes: {m['n']}   primary macro-F1: {m['macro_f1']:.3f}   accuracy: {m['accuracy']:.3f}   "
             f"label-set macro-F1: {m['label_set_macro_f1']:.3f}", ""]
    lines.append(f"{'label':<12} {'precision':>9} {'recall':>7} {'F1':>6} {'support':>8} {'brier':>6} {'ECE':>6}")
    for label in LABELS:
        row = m["per_label"][label]
        cal = m["calibration"][label]
        lines.append(f"{label:<12} {row['precision']:>9.3f} {row['recall']:>7.3f} {row['f1']:>6.3f} "
                     f"{row['support']:>8} {cal['brier']:>6.3f} {cal['ece']:>6.3f}")
    lines += ["", "confusion (rows gold, columns predicted):"]
    labels = m["confusion"]["labels"]
    lines.append(" " * 13 + " ".join(f"{label[:11]:>11}" for label in labels))
    for label, row in zip(labels, m["confusion"]["matrix"]):
        lines.append(f"{label:<12} " + " ".join(f"{v:>11}" for v in row))
    return "\n".join(lines)
