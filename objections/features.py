"""From processed spaCy Docs to the feature matrix the classifier reads."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction import DictVectorizer
from sklearn.feature_extraction.text import TfidfTransformer, TfidfVectorizer
from sklearn.utils.validation import check_is_fitted

from .preprocess import NEG_DISMISSED, NEG_NEGATED

__all__ = ["NoteFeatures", "doc_to_features", "NoteVectorizer"]

_PREFIX = {NEG_NEGATED: "neg_", NEG_DISMISSED: "ok_"}


class NoteFeatures:
    """What the classifier keeps of one processed note.

    Small and picklable, so worker processes can send it back cheaply.

    Attributes
    ----------
    text : str
        The original text.
    clean : str
        The writer's own words (noise removed), lower-cased, with
        placeholders; character n-grams are read from it.
    sentences : list of tuple
        ``(start_char, end_char, {term: weight})`` per sentence that has
        any non-noise words.
    """

    __slots__ = ("text", "clean", "sentences")

    def __init__(self, text, clean, sentences):
        self.text = text
        self.clean = clean
        self.sentences = sentences

    def terms(self):
        """Term weights over the whole note."""
        total = {}
        for _, _, terms in self.sentences:
            for term, weight in terms.items():
                total[term] = total.get(term, 0.0) + weight
        return total

    def __getstate__(self):
        return (self.text, self.clean, self.sentences)

    def __setstate__(self, state):
        self.text, self.clean, self.sentences = state


def doc_to_features(doc, rep_weight=0.5, bigrams=True, negation=True):
    """Extract :class:`NoteFeatures` from a Doc made by our pipeline.

    Parameters
    ----------
    doc : spacy.tokens.Doc
    rep_weight : float
        Weight of words said by the seller in a transcript (buyer words
        and text without speakers weigh 1).
    bigrams : bool
        Add pairs of adjacent terms within a sentence.
    negation : bool
        Prefix terms in a negation scope (``neg_``) or a dismissal scope
        (``ok_``).

    Returns
    -------
    NoteFeatures
    """
    norms = doc._.obj_norm
    noise = doc._.obj_noise
    speakers = doc._.obj_speaker
    negs = doc._.obj_negation
    clean_parts = []
    sentences = []
    for sent in doc.sents:
        terms = {}
        prev = None
        prev_w = 0.0
        first_char = last_char = None
        for i in range(sent.start, sent.end):
            norm = norms[i]
            if noise[i] or not norm:
                continue
            w = rep_weight if speakers[i] == "rep" else 1.0
            term = _PREFIX.get(negs[i], "") + norm if negation else norm
            terms[term] = terms.get(term, 0.0) + w
            if bigrams and prev is not None:
                bigram = prev + " " + term
                terms[bigram] = terms.get(bigram, 0.0) + min(w, prev_w)
            prev, prev_w = term, w
            token = doc[i]
            clean_parts.append(norm if norm.startswith("__") else token.lower_)
            if first_char is None:
                first_char = token.idx
            last_char = token.idx + len(token.text)
        if terms:
            sentences.append((first_char, last_char, terms))
    return NoteFeatures(doc.text, " ".join(clean_parts), sentences)


class NoteVectorizer(TransformerMixin, BaseEstimator):
    """TF-IDF over our terms (word n-grams) and over characters of the clean text.

    Parameters
    ----------
    min_df : int, default=2
        Drop terms and character n-grams seen in fewer training notes.
    char_ngrams : tuple of int or None, default=(2, 5)
        Character n-gram range (``char_wb``); None turns them off.
    char_weight : float, default=1.0
        Scale of the character block relative to the word block.
    max_char_features : int, default=150000
        Cap on character n-grams, the most frequent kept.

    Attributes
    ----------
    words_ : DictVectorizer
    word_tfidf_ : TfidfTransformer
    chars_ : TfidfVectorizer or None
    feature_names_ : ndarray of str
        Word features first, then character n-grams prefixed ``char:``.
    n_word_features_ : int
    """

    def __init__(self, min_df=2, char_ngrams=(2, 5), char_weight=1.0, max_char_features=150000):
        self.min_df = min_df
        self.char_ngrams = char_ngrams
        self.char_weight = char_weight
        self.max_char_features = max_char_features

    def fit(self, X, y=None):
        """Learn vocabularies and IDF weights from a list of NoteFeatures."""
        self.fit_transform(X)
        return self

    def fit_transform(self, X, y=None):
        dicts = [note.terms() for note in X]
        words = DictVectorizer(dtype=np.float32)
        W = words.fit_transform(dicts)
        df = np.asarray((W > 0).sum(axis=0)).ravel()
        keep = df >= self.min_df
        if not keep.any():
            keep[:] = True
        words.restrict(keep)
        W = W[:, np.flatnonzero(keep)]
        self.words_ = words
        self.word_tfidf_ = TfidfTransformer(sublinear_tf=True)
        W = self.word_tfidf_.fit_transform(W)
        blocks = [W]
        self.chars_ = None
        if self.char_ngrams:
            self.chars_ = TfidfVectorizer(
                analyzer="char_wb",
                ngram_range=tuple(self.char_ngrams),
                min_df=self.min_df,
                sublinear_tf=True,
                max_features=self.max_char_features,
                dtype=np.float32,
            )
            clean = [note.clean for note in X]
            try:
                blocks.append(self.chars_.fit_transform(clean) * self.char_weight)
                # Every n-gram cut by min_df/max_features: introspection only,
                # and by far the largest part of a saved model.
                self.chars_.stop_words_ = None
            except ValueError:
                # Every note empty or too rare: no character block.
                self.chars_ = None
        self.n_word_features_ = W.shape[1]
        names = list(self.words_.feature_names_)
        if self.chars_ is not None:
            names += ["char:" + c for c in self.chars_.get_feature_names_out()]
        self.feature_names_ = np.asarray(names, dtype=object)
        return sp.hstack(blocks, format="csr")

    def transform(self, X):
        """Vectorize a list of NoteFeatures."""
        check_is_fitted(self, "words_")
        blocks = [self.word_tfidf_.transform(self.words_.transform([note.terms() for note in X]))]
        if self.chars_ is not None:
            blocks.append(self.chars_.transform([note.clean for note in X]) * self.char_weight)
        return sp.hstack(blocks, format="csr")

    def transform_terms(self, terms_list):
        """Vectorize bare term dictionaries (word block only), e.g. one sentence."""
        check_is_fitted(self, "words_")
        return self.word_tfidf_.transform(self.words_.transform(terms_list))
