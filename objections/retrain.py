"""Making the model a team's own: suggest, check, retrain, compare, promote.

The loop a team runs on its own closed-lost notes:

1. :func:`suggest` picks the notes most worth labelling next: the ones the
   model is least sure about, spread over the kinds of note in the file.
2. :func:`check_labels` finds labels that disagree with a cross-validated
   prediction with high confidence, likely labelling mistakes.
3. :func:`train_with_base` retrains on the shipped corpus plus the team's
   rows, weighting the team's rows (weight chosen by cross-validation).
4. :func:`compare_models` measures old and new model on held-out team rows
   with a paired bootstrap confidence interval, and records the verdict
   beside the new model.
5. :func:`promote` makes the new model the user's default once a
   comparison passed.
"""

from __future__ import annotations

import datetime as _dt
import gzip
import json
import os
import shutil
import tempfile
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from .classifier import ObjectionClassifier
from .errors import InputError, ModelError, ObjectionsError
from .evaluation import metrics
from .labels import LABELS, parse_labels

__all__ = [
    "BASE_DATA_FILE",
    "COMPARISONS_FILE",
    "load_base",
    "export_base_data",
    "choose_add_weight",
    "train_with_base",
    "suggest",
    "uncertainty",
    "check_labels",
    "paired_bootstrap",
    "compare_models",
    "compare_files",
    "record_comparison",
    "read_comparisons",
    "promote",
    "unpromote",
]

#: The shipped corpus training split, beside the default model (gzipped JSONL
#: with ``id``, ``text`` and ``labels``): the base a team's rows are added to.
BASE_DATA_FILE = "training_data.jsonl.gz"
#: Verdicts of ``compare``, written into the new model's directory.
COMPARISONS_FILE = "comparisons.json"
#: Weights of the team's rows tried when none is given.
WEIGHT_GRID = (1.0, 2.0, 4.0, 8.0)
#: Settings of the quick models used to choose a weight and to check labels:
#: word features only, which trains several times faster than with
#: character n-grams and ranks weights and flags labels the same way.
QUICK_PARAMS = {"char_ngrams": None, "cv": 3}


def _log(progress, message):
    if progress is not None:
        progress(message)


def _primary_counts(labels):
    return dict(sorted(Counter(lab[0] for lab in labels).items()))


def _data_info(source, texts, labels):
    from .training import data_hash

    return {
        "source": source,
        "rows": len(texts),
        "sha256": data_hash(texts, labels),
        "primary_label_counts": _primary_counts(labels),
    }


# -- the base data -------------------------------------------------------------


def _shipped_model_dir():
    from importlib import resources

    try:
        return Path(str(resources.files("objections.default_model")))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[1] / "models" / "default"


def _read_shipped_base(path):
    texts, labels = [], []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for i, line in enumerate(f, start=1):
            if line.strip():
                record = json.loads(line)
                texts.append(record["text"])
                labels.append(parse_labels(record["labels"], row=f"{path} line {i}"))
    return texts, labels


def _select_train_rows(texts, labels, frame, split_col, path):
    from .io import resolve_text_column

    resolve_text_column(frame.columns, split_col, path, "split")
    mask = (frame[split_col].astype(str) == "train").to_numpy()
    if not mask.any():
        raise InputError(f"{path}: no rows have {split_col} == 'train'; check --split-col")
    idx = np.flatnonzero(mask)
    return [texts[i] for i in idx], [labels[i] for i in idx]


def load_base(base="default", *, split_col=None, text_col="text", label_col="labels", encoding="utf-8"):
    """The data a team's rows are added to.

    Parameters
    ----------
    base : {"default", "none"}, str, Path or None
        ``"default"``: the training split of the corpus the shipped model was
        trained on (shipped beside it as :data:`BASE_DATA_FILE`).
        ``"none"`` or None: no base.  Anything else: a labelled file.
    split_col : str, optional
        For a labelled file: keep only rows whose value here is ``train``
        (so ``data/corpus.jsonl`` with ``split_col="split"`` keeps its test
        split out).

    Returns
    -------
    texts : list of str
    labels : list of tuple
    info : dict or None
        ``source``, ``rows``, ``sha256``, ``primary_label_counts``; None
        without a base.
    """
    if base is None or str(base).lower() == "none":
        return [], [], None
    if str(base).lower() == "default":
        model_dir = _shipped_model_dir()
        shipped = model_dir / BASE_DATA_FILE
        if shipped.is_file():
            texts, labels = _read_shipped_base(shipped)
            info = _data_info("default: training split of the shipped corpus", texts, labels)
            _check_base_matches_model(info, model_dir)
            return texts, labels, info
        corpus = Path(__file__).resolve().parents[1] / "data" / "corpus.jsonl"
        if corpus.is_file():
            base, split_col = corpus, "split"
        else:
            raise InputError(
                f"The shipped training data ({shipped}) is missing from this installation; pass "
                "--base PATH to a labelled file (e.g. the project's data/corpus.jsonl with --split-col split)"
            )
    from .io import read_labelled

    texts, labels, frame = read_labelled([base], text_col, label_col, encoding=encoding)
    if split_col:
        texts, labels = _select_train_rows(texts, labels, frame, split_col, base)
    source = f"{base}" + (f" ({split_col} == 'train')" if split_col else "")
    return texts, labels, _data_info(source, texts, labels)


def _check_base_matches_model(info, model_dir):
    try:
        from .persist import read_metadata

        trained_on = read_metadata(model_dir).get("training", {}).get("sha256")
    except ModelError:
        return
    if trained_on and trained_on != info["sha256"]:
        warnings.warn(
            f"The shipped training data in {model_dir} is not the data the shipped model was "
            "trained on (their hashes differ); refresh it with objections.retrain.export_base_data",
            UserWarning,
            stacklevel=3,
        )


def export_base_data(corpus, model_dir, *, split_col="split", text_col="text", label_col="labels"):
    """Write the training split of ``corpus`` beside a model as :data:`BASE_DATA_FILE`.

    Run after retraining the default model, so ``--base default`` adds a
    team's rows to the data that model was trained on.

    Returns
    -------
    pathlib.Path
    """
    from .io import read_labelled

    texts, labels, frame = read_labelled([corpus], text_col, label_col)
    ids = frame["id"].astype(str).tolist() if "id" in frame.columns else [str(i) for i in range(len(texts))]
    mask = (frame[split_col].astype(str) == "train").to_numpy() if split_col else np.ones(len(texts), bool)
    lines = [
        json.dumps({"id": ids[i], "text": texts[i], "labels": ";".join(labels[i])}, ensure_ascii=False)
        for i in np.flatnonzero(mask)
    ]
    path = Path(model_dir) / BASE_DATA_FILE
    # mtime=0: the same data gives the same bytes.
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=9) as f:
        f.write(("\n".join(lines) + "\n").encode("utf-8"))
    return path


# -- training on base + team rows ---------------------------------------------------


def _added_folds(added_labels, folds):
    """Stratified folds over the team's rows, or None when a label has too few rows."""
    from sklearn.model_selection import StratifiedKFold

    primary = np.array([lab[0] for lab in added_labels])
    k = min(folds, min(Counter(primary).values())) if len(primary) else 0
    if k < 2:
        return None
    return list(StratifiedKFold(k, shuffle=True, random_state=0).split(primary, primary))


def _oof_added(base_notes, base_targets, added_notes, added_targets, weight, splits, params):
    """Out-of-fold results on the team's rows; the base is in every training fold."""
    results = [None] * len(added_notes)
    for train_idx, test_idx in splits:
        notes = base_notes + [added_notes[i] for i in train_idx]
        targets = base_targets + [added_targets[i] for i in train_idx]
        sample_weight = None
        if base_notes and weight != 1:
            sample_weight = np.r_[np.ones(len(base_notes)), np.full(len(train_idx), float(weight))]
        clf = ObjectionClassifier(**params).fit_features(notes, targets, sample_weight=sample_weight)
        for i, result in zip(test_idx, clf.tag_notes([added_notes[i] for i in test_idx])):
            results[i] = result
    return results


def choose_add_weight(
    base_notes,
    base_labels,
    added_notes,
    added_labels,
    *,
    grid=WEIGHT_GRID,
    folds=3,
    tolerance=0.01,
    params=None,
    progress=None,
):
    """Choose the weight of the team's rows by cross-validating on them.

    Each weight in ``grid`` is scored by the macro-F1 of out-of-fold
    predictions on the team's rows, with the whole base in every training
    fold.  The smallest weight within ``tolerance`` of the best score wins:
    a larger weight buys little on the team's rows and pulls the model
    further from the base.

    Parameters
    ----------
    base_notes, added_notes : list of NoteFeatures
        Processed texts (see :meth:`ObjectionClassifier.process`).
    base_labels, added_labels : list of tuple
    params : dict, optional
        Classifier settings; :data:`QUICK_PARAMS` by default.

    Returns
    -------
    weight : float
    scores : dict
        Weight -> cross-validated macro-F1 on the team's rows; empty when the
        team's rows are too few to cross-validate (weight 1).
    """
    splits = _added_folds(added_labels, folds)
    if splits is None or not base_notes:
        return 1.0, {}
    params = dict(QUICK_PARAMS if params is None else params)
    base_targets = [";".join(lab) for lab in base_labels]
    added_targets = [";".join(lab) for lab in added_labels]
    scores = {}
    for weight in grid:
        results = _oof_added(base_notes, base_targets, added_notes, added_targets, weight, splits, params)
        scores[float(weight)] = metrics(added_labels, results)["macro_f1"]
        _log(
            progress,
            f"weight {weight:g}: cross-validated macro-F1 on the added rows {scores[float(weight)]:.3f}",
        )
    best = max(scores.values())
    weight = min(w for w, s in scores.items() if s >= best - tolerance)
    return weight, scores


def _as_lexicon_dict(lexicon):
    if lexicon is None:
        return None
    from .lexicon import Lexicon, load_lexicon

    if isinstance(lexicon, (str, Path)):
        lexicon = load_lexicon(lexicon)
    return Lexicon.from_dict(lexicon).to_dict()


def train_with_base(
    base,
    added,
    output,
    *,
    add_weight=None,
    weight_grid=WEIGHT_GRID,
    lexicon=None,
    split_col=None,
    text_col="text",
    label_col="labels",
    spacy_model=None,
    cv=5,
    cv_report=True,
    encoding="utf-8",
    progress=None,
    **params,
):
    """Train on a base data set plus a team's labelled rows and save the model.

    Parameters
    ----------
    base : {"default", "none"}, str or Path
        See :func:`load_base`.
    added : list of str or Path
        The team's labelled files (text and label columns as in
        ``text_col``/``label_col``).
    output : str or Path
        Model directory to write.
    add_weight : float, optional
        Weight of each added row relative to a base row; chosen by
        :func:`choose_add_weight` from ``weight_grid`` when None.
    lexicon : str, Path, dict or Lexicon, optional
        The team's vocabulary (see :mod:`objections.lexicon`), stored in the
        model.
    split_col : str, optional
        Keep only ``train`` rows of a base file.
    cv_report : bool
        Cross-validate the final settings on the added rows (the base in
        every training fold) and record the metrics; with no added rows,
        ordinary cross-validation.
    progress : callable, optional
        Called with a line of text at each step.
    **params
        Passed to :class:`ObjectionClassifier`.

    Returns
    -------
    dict
        ``path``, ``n``, ``add_weight``, ``weight_scores``, ``metrics`` and
        ``model``.
    """
    from .io import read_labelled
    from .training import check_training_data, cross_validate, data_hash

    base_texts, base_labels, base_info = load_base(
        base, split_col=split_col, text_col=text_col, label_col=label_col, encoding=encoding
    )
    added = [added] if isinstance(added, (str, Path)) else list(added or [])
    added_texts, added_labels, added_info = [], [], None
    if added:
        added_texts, added_labels, _ = read_labelled(added, text_col, label_col, encoding=encoding)
        added_info = _data_info(", ".join(map(str, added)), added_texts, added_labels)
    if not base_texts and not added_texts:
        raise InputError("Nothing to train on: give labelled rows with --add, a --base, or both")
    if add_weight is not None and not add_weight > 0:
        raise InputError(f"--add-weight must be a positive number, not {add_weight}")
    texts = base_texts + added_texts
    labels = check_training_data(texts, base_labels + added_labels)
    lexicon = _as_lexicon_dict(lexicon)
    clf = ObjectionClassifier(spacy_model=spacy_model, cv=cv, lexicon=lexicon, **params)
    _log(progress, f"Reading {len(texts)} notes ({len(base_texts)} base, {len(added_texts)} added)")
    notes = clf.process(texts)
    base_notes, added_notes = notes[: len(base_texts)], notes[len(base_texts) :]

    weight_scores = {}
    if not base_texts or not added_texts:
        weight = 1.0
    elif add_weight is not None:
        weight = float(add_weight)
    else:
        _log(progress, "Choosing the weight of the added rows by cross-validation")
        weight, weight_scores = choose_add_weight(
            base_notes,
            base_labels,
            added_notes,
            added_labels,
            grid=weight_grid,
            params={**params, **QUICK_PARAMS},
            progress=progress,
        )

    report_metrics = {}
    if cv_report:
        model_params = {k: v for k, v in clf.get_params().items() if k not in ("spacy_model", "lexicon")}
        if added_texts and base_texts:
            splits = _added_folds(added_labels, cv)
            if splits is not None:
                _log(
                    progress,
                    f"Cross-validating on the added rows ({len(splits)} folds, base always in training)",
                )
                results = _oof_added(
                    base_notes,
                    [";".join(lab) for lab in base_labels],
                    added_notes,
                    [";".join(lab) for lab in added_labels],
                    weight,
                    splits,
                    model_params,
                )
                report_metrics["cross_validated_on_added"] = {
                    "folds": len(splits),
                    "base_in_every_fold": True,
                    **metrics(added_labels, results),
                }
        else:
            _log(progress, f"Cross-validating ({cv} folds)")
            folds_params = {k: v for k, v in model_params.items() if k != "cv"}
            _, report = cross_validate(texts, labels, cv=cv, notes=notes, **folds_params)
            report_metrics["cross_validated"] = {"folds": cv, **report}

    sample_weight = None
    if base_texts and added_texts and weight != 1:
        sample_weight = np.r_[np.ones(len(base_texts)), np.full(len(added_texts), weight)]
    _log(progress, "Training the final model")
    clf.fit_features(notes, [";".join(lab) for lab in labels], sample_weight=sample_weight)
    training = {
        "rows": len(texts),
        "sha256": data_hash(texts, labels),
        "primary_label_counts": _primary_counts(labels),
        "multi_label_rows": sum(len(lab) > 1 for lab in labels),
        "base": base_info or "none",
        "added": added_info or "none",
        "add_weight": weight,
        "trained": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if weight_scores:
        training["add_weight_cv"] = {
            "grid_macro_f1": {f"{w:g}": s for w, s in weight_scores.items()},
            "model": "word features only",
        }
    if lexicon:
        from .lexicon import Lexicon

        training["lexicon"] = Lexicon.from_dict(lexicon).summary()
    path = clf.save(output, training=training, metrics=report_metrics)
    return {
        "path": path,
        "n": len(texts),
        "add_weight": weight,
        "weight_scores": weight_scores,
        "metrics": report_metrics,
        "model": clf,
    }


# -- suggest -----------------------------------------------------------------------

SCORE_COLUMNS = [f"score_{label}" for label in LABELS]


def uncertainty(scores, strategy="margin"):
    """How unsure a model is about each row of label scores (higher: less sure).

    Parameters
    ----------
    scores : array-like of shape (n, n_labels)
        Calibrated scores, one column per label.
    strategy : {"margin", "entropy"}
        ``margin``: one minus the gap between the two highest scores.
        ``entropy``: entropy of the scores normalised to sum to one, divided
        by its maximum.

    Examples
    --------
    >>> uncertainty([[0.9, 0.1, 0.05, 0.0], [0.5, 0.45, 0.1, 0.0]]).round(2).tolist()
    [0.2, 0.95]
    """
    scores = np.clip(np.asarray(scores, dtype=float), 0.0, 1.0)
    if strategy == "margin":
        top = np.sort(scores, axis=1)[:, ::-1]
        return 1.0 - (top[:, 0] - top[:, 1])
    if strategy == "entropy":
        p = scores + 1e-12
        p = p / p.sum(axis=1, keepdims=True)
        return -(p * np.log(p)).sum(axis=1) / np.log(scores.shape[1])
    raise ValueError(f"unknown strategy {strategy!r}; use 'margin' or 'entropy'")


def _diverse_pick(texts, order, n, seed):
    """Pick ``n`` of the rows in ``order`` (most uncertain first), one per cluster."""
    from sklearn.cluster import MiniBatchKMeans
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.feature_extraction.text import TfidfVectorizer

    pool = list(order)
    try:
        matrix = TfidfVectorizer(sublinear_tf=True, stop_words="english").fit_transform(
            [texts[i] for i in pool]
        )
    except ValueError:  # nothing but stop words
        return pool[:n], [0] * min(n, len(pool))
    distinct = len({tuple(row.indices) for row in matrix})
    k = min(n, distinct)
    if k < 2:
        return pool[:n], [0] * min(n, len(pool))
    with warnings.catch_warnings():
        # Near-duplicate notes can leave fewer distinct centres than asked for.
        warnings.simplefilter("ignore", ConvergenceWarning)
        clusters = MiniBatchKMeans(k, random_state=seed, n_init=3, batch_size=1024).fit_predict(matrix)
    picked, picked_clusters, taken = [], [], set()
    for position, row in enumerate(pool):  # most uncertain member of each cluster
        if clusters[position] not in taken:
            taken.add(clusters[position])
            picked.append(row)
            picked_clusters.append(int(clusters[position]))
    for position, row in enumerate(pool):  # clusters that came out empty: the next most uncertain
        if len(picked) >= n:
            break
        if row not in picked:
            picked.append(row)
            picked_clusters.append(int(clusters[position]))
    return picked[:n], picked_clusters[:n]


def suggest(
    frame, n=50, *, model=None, text_col="text", label_col="labels", strategy="margin", pool=5, seed=0
):
    """The notes most worth labelling next.

    The candidates are the ``n * pool`` notes the model is least sure about
    (see :func:`uncertainty`); they are clustered on their words (TF-IDF,
    k-means with ``n`` clusters) and the least certain note of each cluster
    is picked, so the suggestions are not ``n`` copies of one kind of note.
    Empty notes, repeated texts and rows already labelled in ``label_col``
    are skipped.

    Parameters
    ----------
    frame : pandas.DataFrame
        Notes with a text column; either scored already (with the
        ``score_*`` columns of ``objections score``) or not, in which case
        ``model`` scores them.
    n : int
        How many notes to suggest.
    model : ObjectionClassifier, optional
        Needed when ``frame`` has no score columns.
    label_col : str
        The column the output adds, empty, for the labels.

    Returns
    -------
    pandas.DataFrame
        The picked rows, least certain first: the input's own columns,
        ``predicted`` (the model's labels), ``uncertainty``, ``cluster`` and
        an empty ``label_col``.
    """
    from .io import resolve_text_column
    from .scoring import RESULT_COLUMNS, score_frame

    if n < 1:
        raise InputError(f"-n must be at least 1, not {n}")
    resolve_text_column(frame.columns, text_col, "the input")
    frame = frame.reset_index(drop=True)
    scored = all(c in frame.columns for c in SCORE_COLUMNS)
    # In a scored file "labels" holds the model's labels; elsewhere it holds
    # the user's, and rows labelled already are not suggested again.
    labelled = np.zeros(len(frame), dtype=bool)
    if label_col in frame.columns and not (scored and label_col in RESULT_COLUMNS):
        labelled = frame[label_col].map(lambda v: not pd.isna(v) and bool(str(v).strip())).to_numpy()
    if not scored:
        if model is None:
            missing = [c for c in SCORE_COLUMNS if c not in frame.columns]
            raise InputError(
                f"The input has no {', '.join(missing)} columns; score it first with `objections score`, "
                "or give --model to score it here"
            )
        frame = score_frame(model, frame, text_col=text_col)
    scores = frame[SCORE_COLUMNS].apply(pd.to_numeric, errors="coerce")
    if scores.isna().any().any():
        row = int(np.flatnonzero(scores.isna().any(axis=1).to_numpy())[0]) + 1
        raise InputError(f"Row {row} of the input has a score column that is not a number; re-score the file")
    predicted = frame["labels"] if "labels" in frame.columns and "primary" in frame.columns else None
    own = frame[[c for c in frame.columns if c not in RESULT_COLUMNS]]
    texts = ["" if pd.isna(t) else str(t) for t in frame[text_col]]
    eligible = np.array([bool(t.strip()) for t in texts]) & ~labelled
    seen = set()
    for i, text in enumerate(texts):
        key = " ".join(text.lower().split())
        if key in seen:
            eligible[i] = False
        seen.add(key)
    unsure = uncertainty(scores.to_numpy(), strategy)
    candidates = [i for i in np.argsort(-unsure, kind="stable") if eligible[i]]
    picked, clusters = _diverse_pick(texts, candidates[: max(n * pool, n)], n, seed)
    order = sorted(range(len(picked)), key=lambda j: -unsure[picked[j]])
    picked = [picked[j] for j in order]
    clusters = [clusters[j] for j in order]
    out = own.iloc[picked].copy()
    if predicted is not None:
        out["predicted"] = predicted.iloc[picked].to_numpy()
    out["uncertainty"] = np.round(unsure[picked], 4)
    out["cluster"] = clusters
    out[label_col] = ""
    return out.reset_index(drop=True)


# -- check-labels ---------------------------------------------------------------------


def check_labels(
    texts,
    labels,
    *,
    base="none",
    cv=5,
    lexicon=None,
    min_confidence=0.5,
    split_col=None,
    progress=None,
    **params,
):
    """Rows whose label disagrees with a cross-validated prediction with high confidence.

    Every row is predicted by a model that did not see it (``cv`` folds;
    a ``base`` data set, if given, is in every training fold).  Following
    confident learning, a label ``j`` counts as confidently predicted for a
    row when its score reaches the average score of ``j`` over the rows
    labelled ``j``; a row is flagged when such a label is not among its
    given labels, outscores the given primary label and reaches
    ``min_confidence``.

    Parameters
    ----------
    texts : sequence of str
    labels : sequence of str or tuple
        Label cells, primary first.
    base : {"none", "default"}, str or Path
        See :func:`load_base`; a base makes predictions stronger but slower.
    **params
        Classifier settings; :data:`QUICK_PARAMS` are used unless overridden.

    Returns
    -------
    pandas.DataFrame
        One row per flagged row, most confident disagreement first:
        ``row`` (0-based position in the input), ``given``, ``suggested``,
        ``confidence`` (the suggested label's score), ``given_score``.
    """
    from .training import check_training_data

    texts = list(texts)
    labels = [lab if isinstance(lab, tuple) else parse_labels(lab, row=i + 1) for i, lab in enumerate(labels)]
    base_texts, base_labels, _ = load_base(base, split_col=split_col)
    check_training_data(base_texts + texts, base_labels + labels)
    params = {**QUICK_PARAMS, **params}
    proto = ObjectionClassifier(lexicon=_as_lexicon_dict(lexicon), **params)
    _log(progress, f"Reading {len(texts) + len(base_texts)} notes")
    notes = proto.process(base_texts + texts)
    splits = _added_folds(labels, cv)
    if splits is None:
        raise InputError("Too few rows to cross-validate: every label needs at least 2 rows as primary label")
    _log(progress, f"Cross-validating ({len(splits)} folds)")
    fit_params = {k: v for k, v in proto.get_params().items() if k not in ("spacy_model", "lexicon")}
    results = _oof_added(
        notes[: len(base_texts)],
        [";".join(lab) for lab in base_labels],
        notes[len(base_texts) :],
        [";".join(lab) for lab in labels],
        1.0,
        splits,
        fit_params,
    )
    scores = np.array([[r["scores"][label] for label in LABELS] for r in results])
    given_primary = np.array([LABELS.index(lab[0]) for lab in labels])
    # Per-label confidence threshold: the average self-confidence.
    thresholds = np.array(
        [
            scores[given_primary == j, j].mean() if np.any(given_primary == j) else np.inf
            for j in range(len(LABELS))
        ]
    )
    rows = []
    for i, lab in enumerate(labels):
        g = given_primary[i]
        candidates = [
            j
            for j in range(len(LABELS))
            if LABELS[j] not in lab
            and scores[i, j] >= max(thresholds[j], min_confidence)
            and scores[i, j] > scores[i, g]
        ]
        if not candidates:
            continue
        j = max(candidates, key=lambda c: scores[i, c])
        rows.append(
            {
                "row": i,
                "given": ";".join(lab),
                "suggested": LABELS[j],
                "confidence": round(float(scores[i, j]), 4),
                "given_score": round(float(scores[i, g]), 4),
            }
        )
    out = pd.DataFrame(rows, columns=["row", "given", "suggested", "confidence", "given_score"])
    if len(out):
        gap = out["confidence"] - out["given_score"]
        out = out.iloc[np.argsort(-gap.to_numpy(), kind="stable")].reset_index(drop=True)
    return out


# -- compare ---------------------------------------------------------------------------


def _macro_f1_resampled(y, pred, counts, n_labels):
    """Macro-F1 over labels present in each resample, for a (resamples, n) count matrix."""
    f1s, present = [], []
    for k in range(n_labels):
        gold = (y == k).astype(float)
        said = (pred == k).astype(float)
        tp = counts @ (gold * said)
        support = counts @ gold
        denom = support + counts @ said
        f1s.append(np.where(denom > 0, 2 * tp / np.maximum(denom, 1e-12), 0.0))
        present.append(support > 0)
    f1s, present = np.column_stack(f1s), np.column_stack(present)
    return (f1s * present).sum(axis=1) / np.maximum(present.sum(axis=1), 1)


def paired_bootstrap(gold, old, new, *, resamples=1000, seed=0, level=0.95):
    """Confidence interval of the macro-F1 difference ``new - old``.

    Rows are resampled with replacement, the same rows for both models
    (paired), ``resamples`` times from a fixed seed; the interval is the
    percentile interval of the differences.

    Parameters
    ----------
    gold, old, new : sequence of str
        Gold primary labels and each model's primary predictions.

    Returns
    -------
    dict
        ``difference`` (on all rows), ``low``, ``high``, ``level``,
        ``resamples``, ``seed``.

    Examples
    --------
    >>> gold = ["pitch", "market"] * 20
    >>> r = paired_bootstrap(gold, ["pitch"] * 40, gold)
    >>> r["difference"] > 0 and r["low"] > 0
    True
    """
    labels = {label: i for i, label in enumerate(sorted(set(gold) | set(old) | set(new)))}
    y = np.array([labels[v] for v in gold])
    a = np.array([labels[v] for v in old])
    b = np.array([labels[v] for v in new])
    n = len(y)
    if n == 0:
        raise InputError("No rows to compare on")
    rng = np.random.default_rng(seed)
    counts = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(resamples)]).astype(
        float
    )
    full = np.ones((1, n))
    diff_all = (_macro_f1_resampled(y, b, full, len(labels)) - _macro_f1_resampled(y, a, full, len(labels)))[
        0
    ]
    diffs = _macro_f1_resampled(y, b, counts, len(labels)) - _macro_f1_resampled(y, a, counts, len(labels))
    tail = (1 - level) / 2
    return {
        "difference": round(float(diff_all), 4),
        "low": round(float(np.quantile(diffs, tail)), 4),
        "high": round(float(np.quantile(diffs, 1 - tail)), 4),
        "level": level,
        "resamples": resamples,
        "seed": seed,
    }


def _verdict(interval):
    if interval["low"] > 0:
        return "better"
    if interval["high"] < 0:
        return "worse"
    return "no_difference"


def compare_models(old, new, texts, labels, *, resamples=1000, seed=0, level=0.95):
    """Compare two models on the same labelled texts.

    Parameters
    ----------
    old, new : ObjectionClassifier
    texts : sequence of str
    labels : sequence of str or tuple
        Gold labels, primary first.

    Returns
    -------
    dict
        ``n``; ``old`` and ``new`` with ``macro_f1`` and ``per_label`` F1;
        ``interval`` (see :func:`paired_bootstrap`); ``verdict``
        (``"better"`` when the interval lies above 0, ``"worse"`` when below,
        else ``"no_difference"``); ``changed``: the rows whose primary label
        changed (``row``, ``gold``, ``old``, ``new``).
    """
    texts = list(texts)
    labels = [lab if isinstance(lab, tuple) else parse_labels(lab, row=i + 1) for i, lab in enumerate(labels)]
    old_results = old.tag(texts)
    new_results = new.tag(texts)
    summary = {}
    for name, results in (("old", old_results), ("new", new_results)):
        report = metrics(labels, results)
        summary[name] = {
            "macro_f1": report["macro_f1"],
            "accuracy": report["accuracy"],
            "per_label": {label: report["per_label"][label]["f1"] for label in LABELS},
        }
    gold = [lab[0] for lab in labels]
    old_primary = [r["primary"] for r in old_results]
    new_primary = [r["primary"] for r in new_results]
    interval = paired_bootstrap(gold, old_primary, new_primary, resamples=resamples, seed=seed, level=level)
    changed = [
        {"row": i, "gold": gold[i], "old": old_primary[i], "new": new_primary[i]}
        for i in range(len(texts))
        if old_primary[i] != new_primary[i]
    ]
    return {
        "n": len(texts),
        **summary,
        "interval": interval,
        "verdict": _verdict(interval),
        "changed": changed,
    }


def _resolve_model(name):
    from .persist import default_model_path

    return default_model_path() if str(name).lower() == "default" else Path(name)


def compare_files(
    old,
    new,
    data,
    *,
    text_col="text",
    label_col="labels",
    split_col=None,
    split="test",
    encoding="utf-8",
    resamples=1000,
    seed=0,
    level=0.95,
    record=True,
):
    """:func:`compare_models` for two model directories and a labelled file.

    ``old`` or ``new`` may be ``"default"`` (the current default model).
    With ``record``, the verdict is appended to :data:`COMPARISONS_FILE` in
    the new model's directory, where :func:`promote` looks for it (never in
    the shipped model's directory).

    Returns
    -------
    dict
        :func:`compare_models` output plus ``old_model``/``new_model``
        (path and checksum), ``data`` (path, rows, hash), ``texts`` and
        ``frame`` (the rows compared on, for ids), and ``recorded`` (the
        file written, or None).
    """
    from .io import read_labelled
    from .persist import load
    from .training import data_hash

    old_path, new_path = _resolve_model(old), _resolve_model(new)
    old_clf, new_clf = load(old_path), load(new_path)
    texts, labels, frame = read_labelled([data], text_col, label_col, encoding=encoding)
    if split_col:
        from .io import resolve_text_column

        resolve_text_column(frame.columns, split_col, data, "split")
        mask = (frame[split_col].astype(str) == split).to_numpy()
        if not mask.any():
            raise InputError(f"{data}: no rows have {split_col} == {split!r}")
        idx = np.flatnonzero(mask)
        texts, labels, frame = [texts[i] for i in idx], [labels[i] for i in idx], frame.iloc[idx]
    result = compare_models(old_clf, new_clf, texts, labels, resamples=resamples, seed=seed, level=level)
    result["old_model"] = {"path": str(old_path), "sha256": old_clf.metadata_["sha256"]}
    result["new_model"] = {"path": str(new_path), "sha256": new_clf.metadata_["sha256"]}
    result["data"] = {
        "path": str(data) + (f" ({split_col} == {split!r})" if split_col else ""),
        "rows": len(texts),
        "sha256": data_hash(texts, labels),
    }
    result["texts"] = texts
    result["frame"] = frame.reset_index(drop=True)
    result["recorded"] = None
    if record and _is_writable_model_dir(new_path):
        result["recorded"] = record_comparison(new_path, result)
    return result


def _is_writable_model_dir(path):
    path = Path(path)
    if path.is_file():
        path = path.parent
    try:
        if path.resolve() == _shipped_model_dir().resolve():
            return False
    except OSError:
        return False
    return os.access(path, os.W_OK)


def read_comparisons(model_dir):
    """The comparisons recorded in a model directory (a list, maybe empty)."""
    path = Path(model_dir) / COMPARISONS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    entries = data.get("comparisons") if isinstance(data, dict) else None
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


def record_comparison(model_dir, result):
    """Append a comparison's verdict to the new model's :data:`COMPARISONS_FILE`.

    A later comparison with the same old model and data replaces an
    earlier one.  Returns the file's path.
    """
    model_dir = Path(model_dir)
    if model_dir.is_file():
        model_dir = model_dir.parent
    entry = {
        "when": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "old_model": result["old_model"],
        "new_sha256": result["new_model"]["sha256"],
        "data": result["data"],
        "old_macro_f1": result["old"]["macro_f1"],
        "new_macro_f1": result["new"]["macro_f1"],
        "interval": result["interval"],
        "verdict": result["verdict"],
    }
    entries = [
        e
        for e in read_comparisons(model_dir)
        if not (
            e.get("old_model", {}).get("sha256") == entry["old_model"]["sha256"]
            and e.get("data", {}).get("sha256") == entry["data"]["sha256"]
            and e.get("new_sha256") == entry["new_sha256"]
        )
    ]
    entries.append(entry)
    path = model_dir / COMPARISONS_FILE
    fd, tmp = tempfile.mkstemp(prefix=f".{COMPARISONS_FILE}.", dir=model_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"comparisons": entries}, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


# -- promote ------------------------------------------------------------------------------


def _copy_model(src, dest):
    dest = Path(dest)
    if dest.exists() and (dest.is_file() or any(dest.iterdir())):
        from .persist import METADATA_FILE

        if not (dest / METADATA_FILE).is_file():
            raise InputError(f"{dest} exists and is not a model directory; choose a new folder for --to")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        for item in Path(src).iterdir():
            if item.is_file() and not item.name.startswith("."):
                shutil.copy2(item, tmp / item.name)
        from .persist import replace_dir

        replace_dir(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def promote(model, *, to=None, force=False):
    """Make a model the default for this user.

    The model must have a recorded comparison (see :func:`compare_files`)
    in which it was significantly better, and none in which it was
    significantly worse, unless ``force``.  The user's configuration file
    (:func:`objections.config.config_path`) then names it; nothing is
    written into the installed package.  ``$OBJECTIONS_MODEL``, when set,
    still comes first.

    Parameters
    ----------
    model : str or Path
        A model directory.
    to : str or Path, optional
        Copy the model directory here first and promote the copy.
    force : bool
        Promote without a passing comparison.

    Returns
    -------
    dict
        ``path`` (the promoted directory), ``config`` (the file written),
        ``comparisons`` (those that allowed it) and ``forced``.

    Raises
    ------
    ObjectionsError
        No passing comparison, or a recorded significant loss, without
        ``force``; ModelError if the model does not load.
    """
    from .config import read_config, write_config
    from .persist import load

    path = Path(model)
    if path.is_file():
        path = path.parent
    clf = load(path)  # refuse a damaged or incompatible model before naming it anywhere
    sha = clf.metadata_["sha256"]
    comparisons = [c for c in read_comparisons(path) if c.get("new_sha256") == sha]
    better = [c for c in comparisons if c.get("verdict") == "better"]
    worse = [c for c in comparisons if c.get("verdict") == "worse"]
    if not force:
        if worse:
            c = worse[0]
            raise ObjectionsError(
                f"{path} was significantly worse than {c['old_model']['path']} on {c['data']['path']} "
                f"(macro-F1 {c['old_macro_f1']:.3f} -> {c['new_macro_f1']:.3f}); not promoting it "
                "(pass --force to promote it anyway)"
            )
        if not better:
            raise ObjectionsError(
                f"No comparison in which {path} was significantly better is recorded; run "
                f"`objections compare default {path} --data HELD_OUT.csv` first, or pass --force"
            )
    if to is not None:
        target = Path(to).resolve()
        if target == _shipped_model_dir().resolve() or _shipped_model_dir().resolve() in target.parents:
            raise InputError(f"{to} is inside the installed package; choose a folder of your own for --to")
        if target != path.resolve():
            path = _copy_model(path, target)
    path = path.resolve()
    config = read_config()
    config["default_model"] = str(path)
    config["promoted"] = {
        "when": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "sha256": sha,
        "forced": bool(force and not better),
        "comparisons": better,
    }
    written = write_config(config)
    return {"path": path, "config": written, "comparisons": better, "forced": bool(force and not better)}


def unpromote():
    """Forget the promoted model: the shipped model is the default again.

    Returns
    -------
    pathlib.Path or None
        The model that was promoted, if any.
    """
    from .config import config_path, read_config, write_config

    config = read_config()
    previous = config.pop("default_model", None)
    config.pop("promoted", None)
    if previous is not None or config_path().exists():
        write_config(config)
    return Path(previous) if previous else None
