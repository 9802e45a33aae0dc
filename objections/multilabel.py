"""A calibrated one-vs-rest linear classifier with tuned thresholds.

This is the numeric core of :class:`objections.ObjectionClassifier`; it works
on any feature matrix and any label set, so it is tested with scikit-learn's
own estimator checks.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["ThresholdedOneVsRest", "split_targets"]


def split_targets(y):
    """Turn a target vector into lists of labels, primary first.

    Each element may be a single label, a ``;``-separated string or a
    sequence of labels.

    Examples
    --------
    >>> split_targets(["a;b", "c", ("b", "a"), 3])
    [['a', 'b'], ['c'], ['b', 'a'], [3]]
    """
    out = []
    for item in y:
        if isinstance(item, str):
            parts = [p.strip() for p in item.split(";") if p.strip()]
            out.append(parts or [item])
        elif isinstance(item, (list, tuple, np.ndarray)):
            out.append(list(item))
        else:
            out.append([item])
    return out


def _f1(pred, true):
    tp = np.sum(pred & true)
    denom = np.sum(pred) + np.sum(true)
    return 0.0 if denom == 0 else 2.0 * tp / denom


def _macro_f1(primary_pred, primary_true, n_classes):
    scores = [
        _f1(primary_pred == k, primary_true == k)
        for k in range(n_classes)
        if np.any(primary_true == k) or np.any(primary_pred == k)
    ]
    return float(np.mean(scores)) if scores else 0.0


class ThresholdedOneVsRest(ClassifierMixin, BaseEstimator):
    """One calibrated logistic regression per label, with per-label thresholds.

    For each label a logistic regression learns "is this label present"
    (as primary or secondary).  Its scores are calibrated by Platt scaling
    fitted on out-of-fold decision values, so a score of 0.8 means the label
    is present about 80% of the time.  The same out-of-fold scores choose one
    threshold per label, maximising the macro-F1 of the primary label.

    A text's labels are every label whose score reaches its threshold; its
    primary label is the highest-scoring of those.  When no label passes,
    the primary label is ``empty_label`` if it is set (e.g. ``"none"``),
    otherwise the highest-scoring label.

    Parameters
    ----------
    C : float, default=4.0
        Inverse regularisation strength of each logistic regression.
    class_weight : {"balanced", None}, default="balanced"
        Passed to each logistic regression.
    cv : int, default=5
        Folds for the out-of-fold scores used for calibration and thresholds.
    empty_label : object, default=None
        The label that means "none of the others" (it is learnt like the
        others, but it is predicted when no other label passes).
    tune_thresholds : bool, default=True
        Tune thresholds on out-of-fold scores; when False every threshold
        is 0.5.
    max_iter : int, default=2000
        Solver iterations.
    random_state : int, default=0
        Seed of the fold split.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels, in the order of the score columns.
    estimators_ : list of LogisticRegression
        One per label, fitted on all the data.
    calibration_ : ndarray of shape (n_classes, 2)
        Platt slope and intercept per label.
    thresholds_ : ndarray of shape (n_classes,)
        Score a label must reach to be predicted.
    oof_scores_ : ndarray of shape (n_samples, n_classes)
        Calibrated out-of-fold scores on the training data.
    n_features_in_ : int
        Number of features seen in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0, 1], [0, 2], [1, 0], [2, 0], [0, 3], [3, 0]] * 5)
    >>> y = ["b", "b", "a", "a", "b", "a"] * 5
    >>> clf = ThresholdedOneVsRest(cv=3).fit(X, y)
    >>> clf.predict([[0.0, 5], [5, 0]]).tolist()
    ['b', 'a']
    """

    def __init__(
        self,
        C=4.0,
        class_weight="balanced",
        cv=5,
        empty_label=None,
        tune_thresholds=True,
        max_iter=2000,
        random_state=0,
    ):
        self.C = C
        self.class_weight = class_weight
        self.cv = cv
        self.empty_label = empty_label
        self.tune_thresholds = tune_thresholds
        self.max_iter = max_iter
        self.random_state = random_state

    def _targets(self, y):
        if not isinstance(y, (list, tuple)) and hasattr(y, "ndim") and y.ndim == 2:
            raise ValueError(
                "y must be a 1d vector of labels (use ';'-separated strings for several "
                "labels), not a 2d indicator matrix"
            )
        lists = split_targets(y)
        primary = np.asarray([labels[0] for labels in lists], dtype=object)
        check_classification_targets(primary)
        classes = sorted({label for labels in lists for label in labels}, key=str)
        if self.empty_label is not None and self.empty_label not in classes:
            classes.append(self.empty_label)
        return lists, primary, classes

    def _new_lr(self):
        return LogisticRegression(
            C=self.C,
            class_weight=self.class_weight,
            max_iter=self.max_iter,
            solver="liblinear",
        )

    def fit(self, X, y, sample_weight=None):
        """Fit the per-label models, calibration and thresholds.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Labels; an element may be a ``;``-separated string or a sequence
            of labels, primary first.
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        self
        """
        X = validate_data(self, X, accept_sparse="csr", reset=True)
        lists, primary, classes = self._targets(y)
        if len(classes) < 2:
            raise ValueError(
                f"Training needs at least two classes; the data has 1 class: {classes[0]!r}"
            )
        self.classes_ = np.asarray(classes, dtype=object)
        if all(isinstance(c, numbers.Integral) for c in classes):
            self.classes_ = np.asarray(classes)
        n, k = X.shape[0], len(classes)
        index = {c: j for j, c in enumerate(classes)}
        Y = np.zeros((n, k), dtype=bool)
        for i, labels in enumerate(lists):
            for label in labels:
                Y[i, index[label]] = True
        primary_idx = np.array([index[p] for p in primary])
        sw = None if sample_weight is None else np.asarray(sample_weight, dtype=float)

        decision = np.zeros((n, k))
        counts = np.bincount(primary_idx, minlength=k)
        n_splits = int(min(self.cv, counts[counts > 0].min())) if self.cv else 0
        if n_splits >= 2:
            folds = StratifiedKFold(n_splits, shuffle=True, random_state=self.random_state)
            for train, test in folds.split(np.zeros(n), primary_idx):
                for j in range(k):
                    decision[test, j] = self._fit_one(X[train], Y[train, j], sw, train).decision_function(
                        X[test]
                    )
        self.estimators_ = [self._fit_one(X, Y[:, j], sw, None) for j in range(k)]
        if n_splits < 2:
            # Too few examples per class for out-of-fold scores: fall back
            # to in-sample scores (overconfident, documented in the card).
            decision = np.column_stack([est.decision_function(X) for est in self.estimators_])
        self.calibration_ = np.array(
            [self._platt(decision[:, j], Y[:, j]) for j in range(k)], dtype=float
        )
        self.oof_scores_ = self._calibrate(decision)
        self.thresholds_ = np.full(k, 0.5)
        if self.tune_thresholds:
            self.thresholds_ = self._tune(self.oof_scores_, Y, primary_idx)
        return self

    def _fit_one(self, X, target, sw, rows):
        if target.all() or not target.any():
            # A label present everywhere (or nowhere) in this fold: a
            # constant model keeps the shapes without failing the fit.
            return _ConstantModel(1.0 if target.all() else -1.0)
        weights = None if sw is None else (sw if rows is None else sw[rows])
        return self._new_lr().fit(X, target, sample_weight=weights)

    @staticmethod
    def _platt(decision, target):
        if target.all() or not target.any() or np.ptp(decision) == 0:
            p = float(np.clip(target.mean(), 1e-3, 1 - 1e-3))
            return (0.0, float(np.log(p / (1 - p))))
        lr = LogisticRegression(C=100.0).fit(decision.reshape(-1, 1), target)
        return (float(lr.coef_[0, 0]), float(lr.intercept_[0]))

    def _calibrate(self, decision):
        z = decision * self.calibration_[:, 0] + self.calibration_[:, 1]
        return 1.0 / (1.0 + np.exp(-np.clip(z, -35, 35)))

    def _empty_index(self):
        if self.empty_label is None:
            return None
        return int(np.flatnonzero(self.classes_ == self.empty_label)[0])

    def _decide(self, scores, thresholds):
        """Primary index and pass mask for each row of scores."""
        passing = scores >= thresholds
        empty = self._empty_index()
        candidates = passing.copy()
        if empty is not None:
            candidates[:, empty] = False
        masked = np.where(candidates, scores, -np.inf)
        primary = masked.argmax(axis=1)
        nobody = ~candidates.any(axis=1)
        if empty is not None:
            # "none" also wins when it passes and outscores every objection.
            best = np.where(candidates, scores, -np.inf).max(axis=1)
            none_wins = passing[:, empty] & (scores[:, empty] > best)
            primary = np.where(nobody | none_wins, empty, primary)
        else:
            primary = np.where(nobody, scores.argmax(axis=1), primary)
        return primary, candidates & ~((primary == empty)[:, None] if empty is not None else False)

    def _tune(self, scores, Y, primary_idx):
        k = scores.shape[1]
        grid = np.round(np.arange(0.05, 0.951, 0.025), 3)
        empty = self._empty_index()
        thresholds = np.full(k, 0.5)
        for j in range(k):
            if j == empty:
                continue
            f1s = [_f1(scores[:, j] >= t, Y[:, j]) for t in grid]
            thresholds[j] = grid[int(np.argmax(f1s))]
        if empty is not None:
            thresholds[empty] = 1.01  # off unless it helps
        best = _macro_f1(self._decide(scores, thresholds)[0], primary_idx, k)
        empty_grid = np.concatenate([grid, [1.01]])
        for _ in range(2):
            improved = False
            for j in range(k):
                for t in empty_grid if j == empty else grid:
                    trial = thresholds.copy()
                    trial[j] = t
                    value = _macro_f1(self._decide(scores, trial)[0], primary_idx, k)
                    if value > best + 1e-9:
                        best, thresholds, improved = value, trial, True
            if not improved:
                break
        return thresholds

    def decision_function(self, X):
        """Uncalibrated decision value per label."""
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", reset=False)
        return np.column_stack([est.decision_function(X) for est in self.estimators_])

    def predict_proba(self, X):
        """Calibrated probability that each label is present.

        Labels are not exclusive, so a row need not sum to one.
        """
        return self._calibrate(self.decision_function(X))

    def predict_labels(self, X):
        """Primary label index and the boolean label matrix for each row."""
        scores = self.predict_proba(X)
        primary, passing = self._decide(scores, self.thresholds_)
        return scores, primary, passing

    def predict(self, X):
        """The primary label of each row."""
        _, primary, _ = self.predict_labels(X)
        return self.classes_[primary]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class _ConstantModel:
    """A fitted stand-in that returns the same decision value for every row."""

    def __init__(self, value):
        self.value = value
        self.coef_ = None

    def decision_function(self, X):
        return np.full(X.shape[0], self.value)
