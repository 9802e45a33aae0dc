"""From processed spaCy Docs to the feature matrix the classifier reads."""

from __future__ import annotations

import weakref
from array import array
from collections import Counter
from itertools import repeat

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction import DictVectorizer
from sklearn.feature_extraction.text import TfidfTransformer, TfidfVectorizer
from sklearn.utils.validation import check_is_fitted

from .preprocess import NEG_DISMISSED, NEG_NEGATED, NEG_NONE, pop_token_columns

__all__ = ["NoteFeatures", "doc_to_features", "NoteVectorizer"]


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
        any non-noise words; a weight is a count (an int) when every word
        weighs 1, else a float.
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


def doc_to_features(doc, rep_weight=0.5, bigrams=True, negation=True, text=None):
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
    text : str, optional
        ``doc.text``, when the caller has it: spaCy rebuilds it token by
        token otherwise.

    Returns
    -------
    NoteFeatures
    """
    norms = doc._.obj_norm
    noise = doc._.obj_noise
    speakers = doc._.obj_speaker
    negs = doc._.obj_negation
    n = len(doc)
    if not n:
        return NoteFeatures(doc.text if text is None else text, "", [])
    # Token columns read in C (no Token objects); words as string hashes.
    starts, lengths, lowers, spaces, sent_starts = pop_token_columns(doc)
    end = starts[-1] + lengths[-1]
    if text is None or (end != len(text) and not text[end:].isspace()):
        # No text given, or not the one the tokens were cut from (a custom
        # tokenizer that rewrites its input): offsets must index doc.text.
        text = doc.text
    # Tokens that carry a term: not noise, not punctuation or space.
    kept = [i for i in range(n) if norms[i] and not noise[i]]
    if negation:
        terms_of = [_PREFIX_OF[negs[i]] + norms[i] for i in kept]
    else:
        terms_of = [norms[i] for i in kept]
    # Character n-grams read the words as written (lower-cased), except
    # that placeholders stay placeholders.
    lower_of = _LOWER_STRINGS.get
    clean = " ".join(
        [
            norms[i] if norms[i].startswith("__") else lower_of(lowers[i]) or _lower_word(doc, lowers[i])
            for i in kept
        ]
    )
    # Sentences start at token 0 and wherever SENT_START is 1, as
    # ``doc.sents`` has them.
    bounds = [i for i in range(1, n) if sent_starts[i]]
    bounds.append(n)
    # Seller words weigh less; without any, every weight is 1 and the
    # counting runs in C (collections.Counter).
    weighted = rep_weight != 1.0 and "rep" in speakers
    sentences = []
    k = 0
    n_kept = len(kept)
    for end in bounds:
        first = k
        while k < n_kept and kept[k] < end:
            k += 1
        if k == first:
            continue
        seq = terms_of[first:k]
        if weighted:
            terms = _weighted_terms(seq, [rep_weight if speakers[i] == "rep" else 1.0 for i in kept[first:k]], bigrams)
        else:
            terms = Counter(seq)
            if bigrams and len(seq) > 1:
                terms.update(map(_join_pair, seq, seq[1:]))
        # Punctuation after the last word still belongs to the sentence a
        # user reads as evidence ("...froze spend.").
        j = end - 1
        while j > kept[k - 1] and (noise[j] or spaces[j]):
            j -= 1
        sentences.append((starts[kept[first]], starts[j] + lengths[j], terms))
    return NoteFeatures(text, clean, sentences)


_PREFIX_OF = {NEG_NONE: "", NEG_NEGATED: "neg_", NEG_DISMISSED: "ok_"}


def _join_pair(a, b):
    return a + " " + b


def _weighted_terms(seq, weights, bigrams):
    """Term weights of one sentence; a bigram weighs as its lighter word."""
    terms = {}
    prev = None
    prev_w = 0.0
    for term, w in zip(seq, weights):
        terms[term] = terms.get(term, 0.0) + w
        if bigrams and prev is not None:
            bigram = prev + " " + term
            terms[bigram] = terms.get(bigram, 0.0) + min(w, prev_w)
        prev, prev_w = term, w
    return terms


def _lower_word(doc, lower):
    """The lower-cased word of a LOWER hash (memoised: the StringStore is slow)."""
    word = _LOWER_STRINGS.get(lower)
    if word is None:
        if len(_LOWER_STRINGS) > _LOWER_STRINGS_MAX:
            _LOWER_STRINGS.clear()
        word = _LOWER_STRINGS[lower] = doc.vocab.strings[lower]
    return word


# Lower-cased word of each LOWER hash seen (the StringStore lookup is the
# slow part of reading a word); cleared past the cap so memory stays flat.
_LOWER_STRINGS = {}
_LOWER_STRINGS_MAX = 200_000


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
    n_word_features_ : int
    """

    def __init__(self, min_df=2, char_ngrams=(2, 5), char_weight=1.0, max_char_features=150000):
        self.min_df = min_df
        self.char_ngrams = char_ngrams
        self.char_weight = char_weight
        self.max_char_features = max_char_features

    def _new_char_vectorizer(self):
        return TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=tuple(self.char_ngrams),
            min_df=self.min_df,
            sublinear_tf=True,
            max_features=self.max_char_features,
            dtype=np.float32,
        )

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
            self.chars_ = self._new_char_vectorizer()
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
        return sp.hstack(blocks, format="csr")

    @property
    def feature_names_(self):
        """Word features first, then character n-grams prefixed ``char:``."""
        check_is_fitted(self, "words_")
        names = list(self.words_.feature_names_)
        if self.chars_ is not None:
            names += ["char:" + c for c in self.chars_.get_feature_names_out()]
        return np.asarray(names, dtype=object)

    # A fitted vectorizer holds two vocabularies of ~10^5 entries.  Stored as
    # dictionaries they become one JSON node per entry in a skops file (tens
    # of MB, seconds to load); stored as two string arrays and IDF vectors
    # they are a few MB and load in a fraction of a second.
    def __getstate__(self):
        state = {k: v for k, v in self.__dict__.items() if k not in ("words_", "word_tfidf_", "chars_")}
        if "words_" in self.__dict__:
            state["word_names_"] = np.asarray(self.words_.feature_names_, dtype=str)
            state["word_idf_"] = self.word_tfidf_.idf_
            if self.chars_ is not None:
                state["char_names_"] = np.asarray(self.chars_.get_feature_names_out(), dtype=str)
                state["char_idf_"] = self.chars_.idf_
            else:
                state["char_names_"] = None
                state["char_idf_"] = None
        return state

    def __setstate__(self, state):
        state = dict(state)
        words = state.pop("word_names_", None)
        word_idf = state.pop("word_idf_", None)
        chars = state.pop("char_names_", None)
        char_idf = state.pop("char_idf_", None)
        self.__dict__.update(state)
        if words is None:
            return
        names = [str(w) for w in words]
        self.words_ = DictVectorizer(dtype=np.float32)
        self.words_.feature_names_ = names
        self.words_.vocabulary_ = {name: i for i, name in enumerate(names)}
        self.word_tfidf_ = TfidfTransformer(sublinear_tf=True)
        self.word_tfidf_.idf_ = np.asarray(word_idf, dtype=np.float64)
        self.word_tfidf_.n_features_in_ = len(names)
        self.chars_ = None
        if chars is not None:
            self.chars_ = self._new_char_vectorizer()
            self.chars_.vocabulary_ = {str(c): i for i, c in enumerate(chars)}
            self.chars_.idf_ = np.asarray(char_idf, dtype=np.float64)

    def transform(self, X):
        """Vectorize a list of NoteFeatures."""
        return self.transform_notes(X)[0]

    def transform_notes(self, X):
        """Vectorize notes, also returning what evidence selection needs.

        Each term is looked up once, per sentence; a note's counts are the
        sum of its sentences'.

        Returns
        -------
        matrix : scipy.sparse.csr_matrix
            As :meth:`transform`.
        sentence_counts : scipy.sparse.csr_matrix
            Word-block term weights of every sentence of every note, one row
            per sentence in order (see :meth:`sentence_weights`).
        owners : numpy.ndarray
            The note (row of ``matrix``) each sentence row belongs to.
        """
        check_is_fitted(self, "words_")
        if len(X) == 0:
            self.words_.transform([])  # scikit-learn's error for no rows
        sentence_counts, owners = _sentence_counts(self.words_, X)
        n_words = len(self.words_.vocabulary_)
        # Sum a note's sentences in float64, then round once, as
        # ``note.terms()`` + DictVectorizer did.
        counts = sp.csr_matrix(
            (sentence_counts.data, (owners[_row_of_entry(sentence_counts)], sentence_counts.indices)),
            shape=(len(X), n_words),
            dtype=np.float64,
        ).astype(self.words_.dtype)
        counts.sort_indices()
        sentence_counts = sentence_counts.astype(self.words_.dtype)
        blocks = [self.word_tfidf_.transform(counts)]
        if self.chars_ is not None:
            blocks.append(_char_tfidf(self.chars_, [note.clean for note in X]) * self.char_weight)
        return sp.hstack(blocks, format="csr"), sentence_counts, owners

    def sentence_weights(self, counts):
        """Sublinear TF x IDF of raw term counts, without length normalisation.

        A sentence's total then grows with the evidence in it rather than
        favouring two-word fragments.
        """
        weights = counts.copy()
        weights.data = (1.0 + np.log(counts.data)) * self.word_tfidf_.idf_[counts.indices]
        return weights

    def transform_terms(self, terms_list, normalize=True):
        """Vectorize bare term dictionaries (word block only), e.g. one sentence.

        With ``normalize=False`` rows are :meth:`sentence_weights`.
        """
        check_is_fitted(self, "words_")
        counts = _term_counts(self.words_, terms_list)
        if normalize:
            return self.word_tfidf_.transform(counts)
        return self.sentence_weights(counts)


def _row_of_entry(matrix):
    """Row index of each stored entry of a CSR matrix."""
    return np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))


def _sentence_counts(words, notes):
    """Term weights of every sentence of ``notes`` (rows in order), and each row's note."""
    get = words.vocabulary_.get
    columns, values, sizes, owners = [], [], [], []
    missing = repeat(-1)
    for i, note in enumerate(notes):
        for _, _, terms in note.sentences:
            # map() runs the lookups in C; -1 marks a term the model lacks.
            columns.extend(map(get, terms, missing))
            values.extend(terms.values())
            sizes.append(len(terms))
            owners.append(i)
    columns = np.asarray(columns, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    rows = np.repeat(np.arange(len(sizes)), sizes)
    known = columns >= 0
    # A sentence's terms are distinct keys, so no row repeats a column.
    indptr = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows[known], minlength=len(sizes)), out=indptr[1:])
    counts = sp.csr_matrix(
        (values[known], columns[known].astype(np.intc), indptr),
        shape=(len(sizes), len(words.vocabulary_)),
    )
    counts.sort_indices()
    return counts, np.asarray(owners, dtype=np.int64)


# Scoring spends much of its time turning notes into counts.  scikit-learn's
# DictVectorizer and CountVectorizer check and look up every item in Python;
# the two functions below build the same count matrices (same values, same
# sorted CSR layout, so the TF-IDF weights are bit-for-bit identical) with
# less work per item.


def _term_counts(words, dicts):
    """``words.transform(dicts)`` for dicts of numeric weights."""
    if not dicts:
        return words.transform(dicts)  # the same error for no rows
    vocabulary = words.vocabulary_
    get = vocabulary.get
    indices, values, indptr = [], [], [0]
    for terms in dicts:
        for term, weight in terms.items():
            j = get(term)
            if j is not None:
                indices.append(j)
                values.append(weight)
        indptr.append(len(indices))
    counts = sp.csr_matrix(
        (np.asarray(values, dtype=words.dtype), np.asarray(indices, dtype=np.intc), indptr),
        shape=(len(dicts), len(vocabulary)),
    )
    counts.sort_indices()
    return counts


# char_wb n-grams never cross a word boundary, so a note's n-grams are the
# union of its words' n-grams: each distinct word is analysed once per
# fitted vectorizer.  The cache is dropped when it grows past this many
# words, so memory stays flat on long inputs.
_WORD_COLUMNS = weakref.WeakKeyDictionary()
_WORD_COLUMNS_MAX = 50_000


def _word_columns(word, vocabulary, min_n, max_n):
    """Vocabulary columns of the char_wb n-grams of one word, repeats kept, as bytes."""
    # The n-grams exactly as TfidfVectorizer._char_wb_ngrams makes them.
    padded = " " + word + " "
    length = len(padded)
    columns = array("i")
    for n in range(min_n, max_n + 1):
        offset = 0
        j = vocabulary.get(padded[0:n])
        if j is not None:
            columns.append(j)
        while offset + n < length:
            offset += 1
            j = vocabulary.get(padded[offset : offset + n])
            if j is not None:
                columns.append(j)
        if offset == 0:  # a word shorter than n counts once
            break
    return columns.tobytes()


def _char_tfidf(chars, texts):
    """``chars.transform(texts)`` for a fitted char_wb TfidfVectorizer."""
    if not (
        texts
        and chars.analyzer == "char_wb"
        and chars.input == "content"
        and chars.lowercase
        and chars.preprocessor is None
        and chars.strip_accents is None
        and not chars.binary
    ):
        return chars.transform(texts)
    check_is_fitted(chars, "vocabulary_")
    vocabulary = chars.vocabulary_
    cache = _WORD_COLUMNS.get(chars)
    if cache is None or len(cache) > _WORD_COLUMNS_MAX:
        cache = _WORD_COLUMNS[chars] = {}
    min_n, max_n = chars.ngram_range
    get = cache.get
    rows = []
    for text in texts:
        words = text.lower().split()
        hits = list(map(get, words))
        if None in hits:
            for k, hit in enumerate(hits):
                if hit is None:
                    hits[k] = cache[words[k]] = _word_columns(words[k], vocabulary, min_n, max_n)
        rows.append(b"".join(hits))
    columns = np.frombuffer(bytearray(b"".join(rows)), dtype=np.intc)
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([len(row) // columns.itemsize for row in rows], out=indptr[1:])
    # One entry per n-gram occurrence; summing the duplicates gives the
    # counts, with each row's columns sorted as CountVectorizer leaves them.
    counts = sp.csr_matrix(
        (np.ones(len(columns), dtype=chars.dtype), columns, indptr),
        shape=(len(texts), len(vocabulary)),
    )
    counts.sum_duplicates()
    return chars._tfidf.transform(counts, copy=False)
