"""``ObjectionClassifier``: texts in, objection labels out."""

from __future__ import annotations

import contextlib
import math
import re

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from .features import NoteVectorizer, doc_to_features
from .labels import LABELS, NONE, OBJECTIONS, parse_labels
from .multilabel import ThresholdedOneVsRest
from .preprocess import get_nlp

__all__ = ["ObjectionClassifier", "MAX_CHARS"]

#: Characters of a note that are read; the rest is ignored and flagged
#: ``truncated`` (spaCy's own limit is 1,000,000 and memory grows with it).
MAX_CHARS = 100_000


def _as_text(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if not isinstance(value, str):
        value = str(value)
    return value


#: Longest run of non-space characters read as it is.  spaCy's tokenizer
#: takes time quadratic in a run's length (100,000 emoji take hours), so
#: longer runs (pasted logs, base64, rows of dashes) get a space every
#: MAX_RUN characters.  No word or URL in real notes comes near it.
MAX_RUN = 300
_LONG_RUN = re.compile(rf"\S{{{MAX_RUN}}}(?=\S)")


def _readable(value):
    """The part of a value that is read: at most MAX_CHARS, long runs broken."""
    text = _as_text(value)[:MAX_CHARS]
    return _LONG_RUN.sub(r"\g<0> ", text) if len(text) > MAX_RUN else text


#: Strings a pipeline keeps for good.  spaCy remembers every new word it
#: sees; past this many, the words new to a call are forgotten when it
#: returns (a spaCy memory zone), so memory stays flat however many ids,
#: names and typos a long file holds, while common words stay cached.
VOCAB_LIMIT = 100_000


def _bounded_vocab(nlp):
    if len(nlp.vocab.strings) < VOCAB_LIMIT or nlp.vocab.in_memory_zone:
        return contextlib.nullcontext()
    # Safe: the NoteFeatures made inside hold Python strings, no Doc.
    return nlp.memory_zone()


def note_flag(text):
    """``"empty"``, ``"truncated"`` or ``""`` for one input value."""
    text = _as_text(text)
    if not text.strip():
        return "empty"
    if len(text) > MAX_CHARS:
        return "truncated"
    return ""


class ObjectionClassifier(ClassifierMixin, BaseEstimator):
    """Tag sales notes with why the buyer said no.

    Texts go through the spaCy pipeline of :mod:`objections.preprocess`
    (noise, speakers, negation, normalization, sentences), become TF-IDF
    features over negation-marked lemma n-grams and character n-grams, and
    are scored by two linear models: a multinomial logistic regression that
    picks the deciding (primary) label, calibrated by temperature scaling,
    and one calibrated logistic regression per label for "is this reason
    present at all", whose thresholds are tuned by cross-validation.

    Parameters
    ----------
    spacy_model : str or None, default=None
        ``None`` for the built-in blank English pipeline, or an installed
        spaCy package name or saved pipeline path.
    disable : tuple of str, default=()
        Our spaCy components to switch off (for ablations).
    rep_weight : float, default=0.5
        Weight of the seller's words in transcripts.
    bigrams : bool, default=True
        Use term bigrams as well as unigrams.
    min_df : int, default=2
        Minimum number of training notes a feature must occur in.
    char_ngrams : tuple of int or None, default=(2, 5)
        Character n-gram range, or None for none.
    char_weight : float, default=0.35
        Weight of the character n-gram block.
    C : float, default=8.0
        Inverse regularisation of the logistic regressions.
    cv : int, default=5
        Folds for calibration and threshold tuning.
    batch_size : int, default=256
        Texts per ``nlp.pipe`` batch.
    lexicon : dict or None, default=None
        A team's vocabulary, ``{"competitors": [...], "products": [...],
        "abbreviations": {short: expansion}}`` (see
        :mod:`objections.lexicon`): rewritten before tokenizing, stored with
        the model and applied whenever it scores.

    Attributes
    ----------
    classes_ : ndarray of str
        ``["pitch", "product_fit", "market", "none"]``.
    vectorizer_ : NoteVectorizer
    model_ : ThresholdedOneVsRest
    thresholds_ : dict
        Score each label must reach.

    Examples
    --------
    >>> import objections
    >>> clf = objections.load()
    >>> clf.predict(["budget frozen until Q3 after the acquisition"]).tolist()
    ['market']
    >>> clf.predict_proba(["no SSO, so security said no"]).columns.tolist()
    ['pitch', 'product_fit', 'market', 'none']
    """

    def __init__(
        self,
        spacy_model=None,
        disable=(),
        rep_weight=0.5,
        bigrams=True,
        min_df=2,
        char_ngrams=(2, 5),
        char_weight=0.35,
        C=8.0,
        cv=5,
        batch_size=256,
        lexicon=None,
    ):
        self.spacy_model = spacy_model
        self.disable = disable
        self.rep_weight = rep_weight
        self.bigrams = bigrams
        self.min_df = min_df
        self.char_ngrams = char_ngrams
        self.char_weight = char_weight
        self.C = C
        self.cv = cv
        self.batch_size = batch_size
        self.lexicon = lexicon

    #: Models saved before the ``lexicon`` parameter existed load without
    #: the attribute; they have no lexicon.
    lexicon = None

    # -- preprocessing ---------------------------------------------------

    def process(self, X):
        """Run the spaCy pipeline and extract features for each text.

        Parameters
        ----------
        X : iterable of str
            Texts; ``None`` and NaN count as empty.  Only the first
            ``MAX_CHARS`` characters of a text are read.

        Returns
        -------
        list of NoteFeatures
        """
        texts = [_readable(t) for t in X]
        if not self.lexicon:
            nlp = get_nlp(self.spacy_model, tuple(self.disable))
            with _bounded_vocab(nlp):
                # spaCy never alters the text, so each Doc's text is the
                # string it was made from.
                return [
                    doc_to_features(doc, rep_weight=self.rep_weight, bigrams=self.bigrams, text=text)
                    for text, doc in zip(texts, nlp.pipe(texts, batch_size=self.batch_size))
                ]
        from .lexicon import Lexicon

        lexicon = Lexicon.from_dict(self.lexicon)
        nlp = get_nlp(self.spacy_model, tuple(self.disable), lexicon)
        with _bounded_vocab(nlp):
            return [
                lexicon.restore(
                    doc_to_features(
                        doc,
                        rep_weight=self.rep_weight,
                        bigrams=self.bigrams,
                        # The Doc holds the rewritten text when the lexicon
                        # changed something.
                        text=text if doc._.obj_source is None else None,
                    ),
                    doc,
                )
                for text, doc in zip(texts, nlp.pipe(texts, batch_size=self.batch_size))
            ]

    def _check_texts(self, X):
        if isinstance(X, str):
            raise TypeError("X must be a list of texts, not a single string; wrap it: [text]")
        if isinstance(X, pd.DataFrame):
            raise TypeError("X must be a sequence of texts; pass one column, e.g. df['text']")
        return list(X)

    # -- fitting ---------------------------------------------------------

    def fit(self, X, y, sample_weight=None):
        """Fit on texts and their labels.

        Parameters
        ----------
        X : sequence of str
        y : sequence
            One label cell per text: ``"market"``, ``"market;pitch"`` or a
            sequence of labels, primary first.
        sample_weight : array-like, optional

        Returns
        -------
        self
        """
        X = self._check_texts(X)
        y = list(y)
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} texts but y has {len(y)} labels")
        targets = [";".join(parse_labels(cell, row=i)) for i, cell in enumerate(y)]
        return self.fit_features(self.process(X), targets, sample_weight)

    def fit_features(self, notes, targets, sample_weight=None):
        """Fit on already processed notes (see :meth:`process`)."""
        self.vectorizer_ = NoteVectorizer(
            min_df=self.min_df, char_ngrams=self.char_ngrams, char_weight=self.char_weight
        )
        matrix = self.vectorizer_.fit_transform(notes)
        self.model_ = ThresholdedOneVsRest(C=self.C, cv=self.cv, empty_label=NONE)
        self.model_.fit(matrix, targets, sample_weight=sample_weight)
        self.classes_ = np.asarray(LABELS, dtype=object)
        self._columns_ = np.array([self._model_column(label) for label in LABELS])
        self.thresholds_ = {
            label: float(self.model_.thresholds_[col]) if col >= 0 else float("inf")
            for label, col in zip(LABELS, self._columns_)
        }
        return self

    def _model_column(self, label):
        hits = np.flatnonzero(self.model_.classes_ == label)
        return int(hits[0]) if len(hits) else -1

    # -- prediction ------------------------------------------------------

    def _scores(self, notes):
        """Scores in LABELS order, primary index and pass mask (model order)."""
        matrix, sentence_counts, owners = self.vectorizer_.transform_notes(notes)
        raw, primary, passing = self.model_.predict_labels(matrix)
        scores = np.zeros((len(notes), len(LABELS)))
        for j, col in enumerate(self._columns_):
            if col >= 0:
                scores[:, j] = raw[:, col]
        # Nothing written, nothing objected to: an empty note is "none" with
        # certainty, whatever the model makes of an all-zero feature vector.
        empty = np.array([not note.text.strip() for note in notes], dtype=bool)
        if empty.any():
            none_col = self._columns_[LABELS.index(NONE)]
            scores[empty] = 0.0
            scores[empty, LABELS.index(NONE)] = 1.0
            primary = np.where(empty, none_col, primary)
            passing = passing & ~empty[:, None]
        return (sentence_counts, owners), scores, primary, passing

    def predict_proba(self, X):
        """Calibrated score of each label for each text.

        Labels are not exclusive (a note can give two reasons), so a row
        does not sum to one.

        Returns
        -------
        pandas.DataFrame
            One row per text, one column per label in ``classes_`` order.
        """
        check_is_fitted(self, "model_")
        _, scores, _, _ = self._scores(self.process(self._check_texts(X)))
        return pd.DataFrame(scores, columns=list(LABELS))

    def predict(self, X):
        """Primary label of each text: the most probable deciding label."""
        check_is_fitted(self, "model_")
        notes = self.process(self._check_texts(X))
        if not notes:
            return np.asarray([], dtype=object)
        # The primary label only: no evidence sentences to pick.
        _, _, primary, _ = self._scores(notes)
        return np.asarray(self.model_.classes_[primary], dtype=object)

    def tag(self, X):
        """Full result for each text.

        Returns
        -------
        list of dict
            ``primary``, ``labels`` (list, primary first), ``scores``
            (label -> float), ``evidence`` (the sentence that drives the
            primary label, ``""`` for ``none``) and ``note`` (``"empty"``,
            ``"truncated"`` or ``""``).

        Examples
        --------
        >>> import objections
        >>> r = objections.load().tag(["Loved the demo. Sadly our parent company froze all new vendor spend."])[0]
        >>> r["primary"], r["evidence"]
        ('market', 'Sadly our parent company froze all new vendor spend.')
        """
        check_is_fitted(self, "model_")
        X = self._check_texts(X)
        results = self.tag_notes(self.process(X))
        for result, text in zip(results, X):
            result["note"] = note_flag(text)
        return results

    def tag_notes(self, notes):
        """:meth:`tag` for already processed notes (no ``note`` flag)."""
        check_is_fitted(self, "model_")
        if not notes:
            return []
        sentences, scores, primary, passing = self._scores(notes)
        model_classes = self.model_.classes_
        evidence = self._evidence(notes, primary, *sentences)
        results = []
        order = {label: j for j, label in enumerate(LABELS)}
        for i in range(len(notes)):
            p = model_classes[primary[i]]
            labels = [p]
            if p != NONE:
                others = [model_classes[c] for c in np.flatnonzero(passing[i]) if model_classes[c] != p]
                labels += sorted(others, key=lambda lab: -scores[i, order[lab]])
            results.append(
                {
                    "primary": p,
                    "labels": labels,
                    "scores": {label: float(scores[i, j]) for j, label in enumerate(LABELS)},
                    "evidence": evidence[i],
                }
            )
        return results

    def _word_coefs(self):
        """Word-feature coefficients, shape (n_word_features, n_model_classes)."""
        n_words = self.vectorizer_.n_word_features_
        cols = []
        for est in self.model_.estimators_:
            coef = getattr(est, "coef_", None)
            cols.append(np.zeros(n_words) if coef is None else np.ravel(coef)[:n_words])
        return np.column_stack(cols)

    def _evidence(self, notes, primary, sentence_counts, owners):
        """The sentence whose words push hardest towards each note's primary label.

        ``primary`` holds model column indices; ``sentence_counts`` and
        ``owners`` are what :meth:`NoteVectorizer.transform_notes` returned.
        """
        out = [""] * len(notes)
        none_col = self._model_column(NONE)
        rows = np.flatnonzero(primary[owners] != none_col)
        if not len(rows):
            return out
        weights = self.vectorizer_.sentence_weights(sentence_counts[rows])
        contrib = weights @ self._word_coefs()
        row_owners = owners[rows]
        # Each note's value under its own primary label; rows of one note
        # are contiguous and in sentence order, so the first of a note's
        # best rows is its earliest best sentence.
        values = contrib[np.arange(len(rows)), primary[row_owners]]
        firsts = np.flatnonzero(np.r_[True, row_owners[1:] != row_owners[:-1]])
        bounds = np.r_[firsts, len(rows)]
        sentence_index = rows - np.searchsorted(owners, owners[rows])
        for a, b in zip(bounds[:-1], bounds[1:]):
            best = a + int(np.argmax(values[a:b]))
            i = int(row_owners[best])
            start, end, _ = notes[i].sentences[int(sentence_index[best])]
            out[i] = " ".join(notes[i].text[start:end].split())
        return out

    def explain(self, text, top=8):
        """Why a text got its labels.

        Parameters
        ----------
        text : str
        top : int, default=8
            Terms to list per label.

        Returns
        -------
        dict
            ``primary``, ``labels``, ``scores``, ``evidence``, ``thresholds``
            and ``terms``: for each label, ``(term, contribution)`` pairs
            sorted by contribution to that label's score (positive pushes
            towards the label).  Character n-grams are summed into one
            ``"[character n-grams]"`` entry.

        Examples
        --------
        >>> import objections
        >>> e = objections.load().explain("No SAML SSO, so IT vetoed it.")
        >>> e["primary"]
        'product_fit'
        """
        check_is_fitted(self, "model_")
        if not isinstance(text, str):
            raise TypeError("explain() takes one text")
        note = self.process([text])[0]
        result = self.tag_notes([note])[0]
        result["note"] = note_flag(text)
        x = self.vectorizer_.transform([note]).tocsr()
        names = self.vectorizer_.feature_names_
        n_words = self.vectorizer_.n_word_features_
        terms = {}
        for j, label in enumerate(self.model_.classes_):
            coef = getattr(self.model_.estimators_[j], "coef_", None)
            if coef is None:
                terms[label] = []
                continue
            coef = np.ravel(coef)
            idx = x.indices
            values = x.data * coef[idx] * self.model_.calibration_[j, 0]
            words = [(str(names[f]), float(v)) for f, v in zip(idx, values) if f < n_words]
            chars = float(sum(v for f, v in zip(idx, values) if f >= n_words))
            words.sort(key=lambda item: -abs(item[1]))
            entries = words[:top]
            if self.vectorizer_.chars_ is not None:
                entries.append(("[character n-grams]", chars))
            terms[label] = sorted(entries, key=lambda item: -item[1])
        result["terms"] = {label: terms.get(label, []) for label in LABELS}
        result["thresholds"] = dict(self.thresholds_)
        return result

    # -- persistence -------------------------------------------------------

    def save(self, path, **metadata):
        """Save to a model directory (see :func:`objections.persist.save`)."""
        from .persist import save

        return save(self, path, **metadata)

    @property
    def objection_labels(self):
        """The objection labels (everything but ``none``)."""
        return OBJECTIONS

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.target_tags.multi_output = False
        return tags
