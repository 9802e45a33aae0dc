"""A calibrated one-vs-rest linear classifier with tuned thresholds.

This is the numeric core of :class:`objections.ObjectionClassifier`; it works
on any feature matrix and any label set, so it is tested with scikit-learn's
own estimator checks.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_array, check_is_fitted, validate_data

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


class ThresholdedOneVsRest(ClassifierMixin, BaseEstimator):
    """A primary-label classifier plus one calibrated presence model per label.

    Two questions are answered separately, because they are different
    questions:

    * *Which label decides?*  A multinomial logistic regression over the
      primary labels, its probabilities calibrated by temperature scaling
      on out-of-fold predictions.  Its argmax is the primary label.
    * *Which labels are present at all?*  One logistic regression per
      label learns "is this label present" (as primary or secondary); its
      scores are calibrated by Platt scaling on out-of-fold decision values,
      so a score of 0.8 means the label is present about 80% of the time.
      Out-of-fold scores also choose one threshold per label (best F1).

    A text's labels are its primary label followed by every other label
    whose presence score reaches its threshold.  When the primary label is
    ``empty_label`` (e.g. ``"none"``) it stands alone.

    Parameters
    ----------
    C : float, default=4.0
        Inverse regularisation strength of each logistic regression.
    class_weight : {"balanced", None}, default="balanced"
        Passed to each logistic regression.
    cv : int, default=5
        Folds for the out-of-fold scores used for calibration and thresholds.
    empty_label : object, default=None
        The label that means "none of the others": it is learnt like the
        others, and when it is the primary label no other label is listed.
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
        Presence model per label, fitted on all the data.
    primary_estimator_ : LogisticRegression
        The primary-label model, fitted on all the data.
    primary_temperature_ : float
        Temperature that calibrates the primary model's probabilities.
    calibration_ : ndarray of shape (n_classes, 2)
        Platt slope and intercept per label.
    thresholds_ : ndarray of shape (n_classes,)
        Presence score a label other than the primary must reach to be
        listed.
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
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        if not isinstance(y, (list, tuple)):
            # Arrays, Series and other array-likes are checked like any
            # scikit-learn target (finite, not empty) before being split.
            y = check_array(y, ensure_2d=False, dtype=None, input_name="y")
        if not isinstance(y, (list, tuple)) and y.ndim == 2:
            raise ValueError(
                "y must be a 1d vector of labels (use ';'-separated strings for several "
                "labels), not a 2d indicator matrix"
            )
        lists = split_targets(y)
        # No dtype=object: type_of_target calls an object array of numbers "unknown".
        primary = np.asarray([labels[0] for labels in lists])
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
        sw = None if sample_weight is None else _check_sample_weight(sample_weight, X)
        if sw is not None and len({p for p, w in zip(primary, sw) if w > 0}) < 2:
            raise ValueError(
                "Training needs at least two classes with positive sample weight; the rows of "
                "every class but one weigh zero"
            )

        decision = np.zeros((n, k))
        counts = np.bincount(primary_idx, minlength=k)
        n_splits = int(min(self.cv, counts[counts > 0].min())) if self.cv else 0
        logits = np.zeros((n, k))
        present = np.flatnonzero(counts > 0)
        # Every fit (k presence models and the primary model, per fold and
        # on all the data) is independent: they run as joblib tasks, in
        # threads (the solvers spend their time in compiled code), spread
        # over the cores of an enclosing ``joblib.parallel_config(n_jobs=...)``
        # and one at a time otherwise.  The results do not depend on how
        # many run at once.
        splits = []
        if n_splits >= 2:
            folds = StratifiedKFold(n_splits, shuffle=True, random_state=self.random_state)
            splits = list(folds.split(np.zeros(n), primary_idx))
        tasks = []
        # Fold fits index the matrix as given (each task its own rows, made
        # inside the task); the final fits share one sorted copy.
        Xs = X
        if sp.issparse(X):
            Xs = X.copy()
            Xs.sum_duplicates()
        for train, _ in splits:
            tasks += [delayed(self._fit_rows)(self._fit_one, X, Y[train, j], sw, train) for j in range(k)]
            tasks.append(delayed(self._fit_rows)(self._fit_primary, X, primary_idx[train], sw, train))
        tasks += [delayed(self._fit_one)(Xs, Y[:, j], sw, None) for j in range(k)]
        tasks.append(delayed(self._fit_primary)(Xs, primary_idx, sw, None))
        fitted = Parallel(prefer="threads")(tasks)
        for f, (_, test) in enumerate(splits):
            models = fitted[f * (k + 1) : (f + 1) * (k + 1)]
            for j in range(k):
                decision[test, j] = models[j].decision_function(X[test])
            logits[test] = self._primary_logits(models[k], X[test], k)
        self.estimators_ = fitted[-(k + 1) : -1]
        self.primary_estimator_ = fitted[-1]
        X = Xs
        if n_splits < 2:
            # Too few examples per class for out-of-fold scores: fall back
            # to in-sample scores (overconfident, documented in the card).
            decision = np.column_stack([est.decision_function(X) for est in self.estimators_])
            logits = self._primary_logits(self.primary_estimator_, X, k)
        self.calibration_ = np.array(
            [self._platt(decision[:, j], Y[:, j]) for j in range(k)], dtype=float
        )
        self.primary_temperature_ = self._temperature(logits[:, present], primary_idx, present)
        self.oof_scores_ = self._calibrate(decision)
        self.oof_primary_ = _softmax(logits / self.primary_temperature_, present)
        self.thresholds_ = np.full(k, 0.5)
        if self.tune_thresholds:
            self.thresholds_ = self._tune(self.oof_scores_, Y, self.oof_primary_.argmax(axis=1))
        return self

    @staticmethod
    def _fit_rows(fit, X, target, sw, rows):
        return fit(X[rows], target, sw, rows)

    def _fit_primary(self, X, primary_idx, sw, rows):
        weights = None if sw is None else (sw if rows is None else sw[rows])
        if len(np.unique(primary_idx)) < 2:
            return _ConstantModel(float(primary_idx[0]))
        lr = LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=self.max_iter)
        return lr.fit(X, primary_idx, sample_weight=weights)

    @staticmethod
    def _primary_logits(model, X, k):
        """Log-odds over all k classes; classes the model never saw get -inf."""
        out = np.full((X.shape[0], k), -np.inf)
        if isinstance(model, _ConstantModel):
            out[:, int(model.value)] = 0.0
            return out
        raw = model.decision_function(X)
        if raw.ndim == 1:  # binary: one column of log-odds for classes_[1]
            raw = np.column_stack([np.zeros_like(raw), raw])
        out[:, model.classes_.astype(int)] = raw
        return out

    @staticmethod
    def _temperature(logits, primary_idx, present):
        """Temperature minimising the log loss of out-of-fold primary predictions."""
        from scipy.optimize import minimize_scalar

        target = np.searchsorted(present, primary_idx)
        finite = np.where(np.isfinite(logits), logits, -1e9)

        def nll(t):
            z = finite / t
            z = z - z.max(axis=1, keepdims=True)
            logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
            return -logp[np.arange(len(target)), target].mean()

        if len(target) < 2:
            return 1.0
        return float(minimize_scalar(nll, bounds=(0.05, 20.0), method="bounded").x)

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

    def _decide(self, primary, scores, thresholds):
        """Label mask per row: the primary label and every other label that passes.

        A row whose primary label is ``empty_label`` has no labels in the mask.
        """
        passing = scores >= thresholds
        passing[np.arange(len(primary)), primary] = True
        empty = self._empty_index()
        if empty is not None:
            passing[:, empty] = False
            passing[primary == empty] = False
        return passing

    def _tune(self, scores, Y, primary):
        """Per-label threshold with the best out-of-fold F1 of "label listed"."""
        k = scores.shape[1]
        grid = np.round(np.arange(0.05, 0.951, 0.025), 3)
        thresholds = np.full(k, 0.5)
        for j in range(k):
            forced = primary == j
            f1s = [_f1(forced | (scores[:, j] >= t), Y[:, j]) for t in grid]
            thresholds[j] = grid[int(np.argmax(f1s))]
        return thresholds

    def decision_function(self, X):
        """Uncalibrated decision value per label."""
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", reset=False)
        return np.column_stack([est.decision_function(X) for est in self.estimators_])

    def predict_proba(self, X):
        """Calibrated probability that each label is present.

        Labels are not exclusive, so a row need not sum to one.  The column
        of ``empty_label`` is the calibrated probability that it is the
        primary label, i.e. that no other label applies.
        """
        scores = self._calibrate(self.decision_function(X))
        empty = self._empty_index()
        if empty is not None:
            scores[:, empty] = self.predict_primary_proba(X)[:, empty]
        return scores

    def predict_primary_proba(self, X):
        """Calibrated probability of each label being the primary one (rows sum to 1)."""
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", reset=False)
        k = len(self.classes_)
        logits = self._primary_logits(self.primary_estimator_, X, k)
        present = np.flatnonzero(np.isfinite(logits[0])) if len(logits) else np.arange(k)
        return _softmax(logits / self.primary_temperature_, present)

    def predict_labels(self, X):
        """Presence scores, primary label index and label mask per row (see ``_decide``)."""
        scores = self.predict_proba(X)
        primary = self.predict_primary_proba(X).argmax(axis=1)
        return scores, primary, self._decide(primary, scores, self.thresholds_)

    def predict(self, X):
        """The primary label of each row."""
        check_is_fitted(self)
        return self.classes_[self.predict_primary_proba(X).argmax(axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


def _softmax(logits, present):
    """Row-wise softmax over the columns in ``present``; other columns get 0."""
    out = np.zeros_like(logits, dtype=float)
    if not len(logits):
        return out
    z = logits[:, present]
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    out[:, present] = e / e.sum(axis=1, keepdims=True)
    return out


class _ConstantModel:
    """A fitted stand-in that returns the same decision value for every row."""

    def __init__(self, value):
        self.value = value
        self.coef_ = None

    def decision_function(self, X):
        return np.full(X.shape[0], self.value)
