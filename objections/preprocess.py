"""The spaCy preprocessing pipeline: noise, speakers, negation, normalization.

Every component is a registered spaCy factory that writes one per-token list
on the ``Doc`` (``doc._.obj_noise``, ``doc._.obj_speaker``,
``doc._.obj_negation``, ``doc._.obj_norm``).  Per-token values live in one list
per document rather than in per-token extension attributes because a
per-token ``Token._`` write costs a dictionary insertion; token-level getters
(``token._.is_noise`` and friends) read from those lists.

Nothing is deleted from the ``Doc``: noise tokens are only flagged, so that
evidence sentences can be cited from the original text.

Sentences come from ``objections_sentencizer`` (spaCy's punctuation rule)
and ``objections_linebreaks``.  The components read token attributes as
columns (``Doc.to_array``) rather than through ``Token`` objects, and keep
the Doc's text, columns and speaker turns in ``doc.user_data`` while they
run; :func:`objections.features.doc_to_features` takes that cache off the
Doc.

Examples
--------
>>> from objections.preprocess import get_nlp
>>> nlp = get_nlp()
>>> doc = nlp("Budget isn't the issue. They don't see the value.")
>>> [t.text for t in doc if t._.negation == "dismissed"]
['Budget']
>>> [t._.norm_term for t in nlp("We paid $45k in Q3")]
['we', 'pay', '__money__', '', 'in', '__quarter__']
"""

from __future__ import annotations

import bisect
import re
from functools import lru_cache

import numpy as np
import spacy
from spacy.attrs import IDX, IS_PUNCT, IS_SPACE, LENGTH, LOWER, ORTH, SENT_START
from spacy.language import Language
from spacy.pipeline import Sentencizer
from spacy.strings import get_string_id
from spacy.tokens import Doc, Token
from spacy.util import compile_infix_regex, compile_prefix_regex, compile_suffix_regex

__all__ = ["build_nlp", "get_nlp", "COMPONENTS", "PIPELINE_VERSION", "find_turns"]

#: Version of what the pipeline and feature extraction produce.  A model's
#: features depend on it, so a model made under another version is refused
#: at load time.  Raise it whenever a component's output changes.
PIPELINE_VERSION = 1

#: Names of our components, in pipeline order.
COMPONENTS = (
    "objections_linebreaks",
    "objections_noise",
    "objections_speakers",
    "objections_negation",
    "objections_normalize",
)

NEG_NONE, NEG_NEGATED, NEG_DISMISSED = 0, 1, 2
_NEG_NAMES = {NEG_NONE: None, NEG_NEGATED: "negated", NEG_DISMISSED: "dismissed"}

for _name in ("obj_noise", "obj_speaker", "obj_negation", "obj_norm"):
    if not Doc.has_extension(_name):
        Doc.set_extension(_name, default=None)


def _token_getter(attr, default, convert=None):
    def getter(token):
        values = getattr(token.doc._, attr)
        if values is None:
            return default
        value = values[token.i]
        return convert(value) if convert else value

    return getter


_TOKEN_EXTENSIONS = {
    "is_noise": _token_getter("obj_noise", False),
    "speaker": _token_getter("obj_speaker", None),
    "negation": _token_getter("obj_negation", None, _NEG_NAMES.get),
    "norm_term": _token_getter("obj_norm", None),
}
for _name, _getter in _TOKEN_EXTENSIONS.items():
    if not Token.has_extension(_name):
        Token.set_extension(_name, getter=_getter)


# Several components need the Doc's text, token offsets and speaker turns;
# spaCy rebuilds ``doc.text`` token by token on every access, and every
# ``Token`` object a loop creates costs more than the work done with it.
# They are computed once per Doc and kept in its user_data while our
# components run, and feature extraction (``pop_token_columns``) removes
# them.  The entry names the Doc and its length, so an entry copied
# onto another Doc (``Span.as_doc(copy_user_data=True)``) is never trusted.
_CACHE_KEY = "objections_cache"


def _doc_cache(doc):
    cache = doc.user_data.get(_CACHE_KEY)
    if cache is None or cache["doc"] != id(doc) or cache["n"] != len(doc):
        cache = doc.user_data[_CACHE_KEY] = {"doc": id(doc), "n": len(doc)}
    return cache


def _doc_text(doc):
    """``doc.text``, computed once per Doc (or kept from the tokenizer)."""
    cache = _doc_cache(doc)
    if "text" not in cache:
        cache["text"] = doc.text
    return cache["text"]


def _doc_turns(doc):
    """``find_turns(doc.text)``, computed once per Doc."""
    cache = _doc_cache(doc)
    if "turns" not in cache:
        cache["turns"] = find_turns(_doc_text(doc))
    return cache["turns"]


def _doc_columns(doc):
    """Per-token lists ``(starts, lengths, orths, lowers, is_space, is_punct)``.

    Read once per Doc with ``Doc.to_array``, which reads the token structs
    in C: no Token objects.  Words are their string hashes.
    """
    cache = _doc_cache(doc)
    columns = cache.get("columns")
    if columns is None:
        if len(doc):
            columns = doc.to_array([IDX, LENGTH, ORTH, LOWER, IS_SPACE, IS_PUNCT]).T.tolist()
        else:
            columns = [[] for _ in range(6)]
        cache["columns"] = columns
    return columns


def _doc_sent_starts(doc):
    """Per-token sentence-start flags (True where a sentence starts)."""
    cache = _doc_cache(doc)
    flags = cache.get("sents")
    if flags is None:
        flags = [flag == 1 for flag in doc.to_array([SENT_START]).tolist()] if len(doc) else []
        cache["sents"] = flags
    return flags


def pop_token_columns(doc):
    """``(starts, lengths, lowers, is_space, sent_starts)`` lists of a processed Doc.

    Feature extraction reads the columns our components already read (and
    then removes them from the Doc), so a Doc's columns come out of spaCy
    once.
    """
    starts, lengths, _, lowers, spaces, _ = _doc_columns(doc)
    # Sentence starts are read afresh: a component added after ours, or the
    # caller, may have moved them.
    sents = [flag == 1 for flag in doc.to_array([SENT_START]).tolist()] if len(doc) else []
    _drop_doc_cache(doc)
    return starts, lengths, lowers, spaces, sents


def _drop_doc_cache(doc):
    doc.user_data.pop(_CACHE_KEY, None)


# Python's ``re`` matches case-insensitive patterns several times slower
# than case-sensitive ones.  Our case-insensitive patterns spell their
# literals in lower case, so on the lower-cased text a case-sensitive copy
# finds exactly the same spans, provided lower-casing maps each character to
# one character and the text has neither of the two letters ``re`` also
# folds onto ASCII ones ("ſ" matches "s", "ı" matches "i").
_FOLDS_TO_ASCII = ("\u017f", "\u0131")


def _lowered(text):
    """``text.lower()`` when matching it case-sensitively is exact, else None."""
    lower = text.lower()
    if len(lower) != len(text) or any(c in text for c in _FOLDS_TO_ASCII):
        return None
    return lower


def _case_sensitive(pattern, lower_literals=False):
    """The case-sensitive twin of a case-insensitive pattern, for :func:`_lowered` text.

    With ``lower_literals`` the pattern's literals are lower-cased first
    (the same pattern, since it ignores case); its escapes must then all be
    lower-case ones (``\\b``, ``\\n``), which lower-casing leaves alone.
    """
    source = pattern.pattern
    if lower_literals:
        if re.search(r"\\[A-Z]", source):
            raise ValueError(f"{source[:40]!r}...: an upper-case escape would change meaning")
        source = source.lower()
    literals = re.sub(r"\\.|\(\?P<\w+>", "", source)  # escapes and group names aside
    if literals != literals.lower():
        raise ValueError(f"{source[:40]!r}...: spell literals in lower case")
    return re.compile(source, pattern.flags & ~re.IGNORECASE)


_UNSET = object()


def _finditer_nocase(pattern, twin, text, lower=_UNSET, endpos=None):
    """``pattern.finditer(text, 0, endpos)`` for an IGNORECASE pattern, via its twin when exact.

    ``lower`` is ``_lowered(text)`` when the caller has it already.
    """
    if lower is _UNSET:
        lower = _lowered(text)
    if endpos is None:
        endpos = len(text)
    return pattern.finditer(text, 0, endpos) if lower is None else twin.finditer(lower, 0, endpos)


class TokenizerWrapper:
    """Base of tokenizers that do something around spaCy's and delegate the rest.

    Subclasses implement ``__call__``.  Attribute reads and writes other
    than the wrapper's own (``_OWN``) go to the wrapped tokenizer, so
    special cases, memory zones and ``nlp.tokenizer.infix_finditer = ...``
    (spaCy's way to customise a tokenizer) reach the real one.
    """

    _OWN = ("tokenizer",)

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer

    def pipe(self, texts, batch_size=1000):
        for text in texts:
            yield self(text)

    def __getattr__(self, name):
        # Only called for names not set on the wrapper; before __init__ has
        # run (copying, unpickling) there is nothing to delegate to.
        tokenizer = self.__dict__.get("tokenizer")
        if tokenizer is None:
            raise AttributeError(name)
        return getattr(tokenizer, name)

    def __setattr__(self, name, value):
        if name in self._OWN:
            object.__setattr__(self, name, value)
        else:
            setattr(self.tokenizer, name, value)


class _TextKeepingTokenizer(TokenizerWrapper):
    """The pipeline's tokenizer, keeping each Doc's text for our components.

    spaCy's tokenizer never alters the text (``doc.text`` is its input), so
    the string it was given is ``doc.text`` without rebuilding it from the
    tokens.
    """

    def __call__(self, text):
        doc = self.tokenizer(text)
        cache = doc.user_data[_CACHE_KEY] = {"doc": id(doc), "n": len(doc)}
        if _text_is_kept(doc, text):
            cache["text"] = text
        return doc


def _text_is_kept(doc, text):
    """True when ``doc.text`` is ``text``, judged from the last token's end.

    spaCy's own tokenizers never alter the text; a custom one from another
    pipeline (``spacy_model``) might, and then the text is rebuilt from the
    tokens instead.
    """
    if not len(doc):
        return not text
    last = doc[-1]
    return last.idx + len(last.text_with_ws) == len(text)


def _char_to_token_index(doc):
    """Return a function mapping a character offset to the token containing it."""
    starts = _doc_columns(doc)[0]

    def index(char):
        return max(bisect.bisect_right(starts, char) - 1, 0)

    return index


def _mark_spans(doc, spans, values, value):
    """Set ``values[i] = value`` for every token overlapping a char span."""
    if not spans or not len(doc):
        return
    index = _char_to_token_index(doc)
    for start, end in spans:
        if end <= start:
            continue
        first, last = index(start), index(end - 1)
        # A token that only ends inside the span (its start is before it)
        # still counts: HTML and quotes glue onto neighbouring text.
        for i in range(first, last + 1):
            values[i] = value


# --------------------------------------------------------------------------
# Sentences: the sentencizer handles punctuation; notes also break on lines.


@Language.factory("objections_sentencizer", default_config={"punct_chars": None})
class PunctSentencizer:
    """spaCy's rule-based ``sentencizer``, reading token columns.

    Same rule and default punctuation as ``spacy.pipeline.Sentencizer``:
    a sentence ends after a run of sentence-final punctuation and the next
    starts at the first token that is not punctuation.  Every token's
    sentence start already set on the Doc is kept (spaCy's
    ``overwrite=False``).  spaCy's version makes a Python ``Token`` for
    every token of every note; this one reads the words as hashes.

    Parameters
    ----------
    punct_chars : list of str, optional
        Sentence-final punctuation; spaCy's default list when None.
    """

    def __init__(self, nlp, name, punct_chars):
        self.name = name
        chars = punct_chars or Sentencizer.default_punct_chars
        self._final_ids = frozenset(get_string_id(c) for c in chars)

    def __call__(self, doc: Doc) -> Doc:
        n = len(doc)
        if not n:
            return doc
        _, _, orths, _, _, puncts = _doc_columns(doc)
        final = self._final_ids
        flags = [False] * n
        flags[0] = True
        start = 0
        seen_final = False
        for i in range(n):
            is_final = orths[i] in final
            if seen_final and not puncts[i] and not is_final:
                flags[start] = True
                start = i
                seen_final = False
            elif is_final:
                seen_final = True
        flags[start] = True
        values = np.where(flags, 1, -1)
        preset = doc.to_array([SENT_START]).astype(np.int64)
        if preset.any():
            values = np.where(preset != 0, preset, values)
            flags = (values == 1).tolist()
        doc.from_array([SENT_START], values.astype(np.uint64).reshape(-1, 1))
        _doc_cache(doc)["sents"] = flags
        return doc


@Language.factory("objections_linebreaks")
class LineBreaks:
    """Start a new sentence after every line break.

    CRM notes, bullet lists and transcripts put one thought per line with no
    final punctuation, so punctuation alone would glue them into one
    "sentence" and evidence would cite the whole note.
    """

    def __init__(self, nlp: Language, name: str):
        self.name = name

    def __call__(self, doc: Doc) -> Doc:
        # The first non-space token after any token whose text or trailing
        # whitespace holds a line break starts a sentence.  Only tokens at
        # line breaks are visited: most notes have few.
        text = _doc_text(doc)
        pos = text.find("\n")
        if pos == -1:
            return doc
        index = _char_to_token_index(doc)
        starts, _, _, _, spaces, _ = _doc_columns(doc)
        sents = _doc_sent_starts(doc)
        n = len(doc)
        while pos != -1:
            i = index(pos)
            j = i + 1
            while j < n and spaces[j]:
                j += 1
            if j < n and not sents[j]:
                doc[j].is_sent_start = True
                sents[j] = True
            pos = text.find("\n", starts[i + 1]) if i + 1 < n else -1
        return doc


# --------------------------------------------------------------------------
# Speaker turns, shared by the noise and speakers components.

_TIME = r"[\[(]?\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?[\])]?"
_ROLE_WORDS_REP = {
    "rep", "ae", "sdr", "bdr", "am", "csm", "se", "sales", "seller", "agent",
    "account executive", "account manager", "sales rep", "host", "interviewer",
    "q", "me", "vendor", "consultant", "sales engineer", "moderator",
}
_ROLE_WORDS_BUYER = {
    "prospect", "customer", "client", "buyer", "lead", "caller", "guest", "a",
    "them", "participant", "interviewee", "respondent", "champion", "user",
}
# Capitalised words that end in a colon at the start of a line in CRM notes
# and e-mails without being a speaker.
_FIELD_LABELS = {
    "note", "notes", "reason", "reasons", "next steps", "next step", "subject",
    "re", "fw", "fwd", "from", "to", "cc", "bcc", "date", "sent", "summary",
    "update", "outcome", "status", "stage", "action items", "comment",
    "comments", "feedback", "pros", "cons", "decision", "competitor",
    "loss reason", "primary reason", "secondary reason", "price", "timing",
    "closed lost", "lost reason", "result", "context", "background", "ps",
    "p.s", "edit", "nb", "fyi", "important", "attendees", "agenda", "tl;dr",
    "tldr", "call notes", "meeting notes", "owner", "amount", "close date",
    "products", "product", "deal", "account", "opportunity", "objection",
    "objections", "risk", "risks", "verdict", "recap", "why", "what",
    "question", "answer", "details", "description", "tel", "phone", "mobile",
    "email", "e-mail", "web", "address", "office", "fax", "title",
    "confidentiality notice", "disclaimer", "notice", "t", "m", "p", "e", "w",
    "o", "f", "ph", "cell", "direct", "main", "ext", "linkedin", "website",
}


def _chevron_transcript(text):
    """True when most lines start with ">>": a transcript, not a quoted reply.

    Some call recorders export turns as ">> words"; an e-mail whose every
    line is quoted carries nothing of the writer, so it is never that.
    """
    if ">>" not in text:
        return False
    lines = [line.lstrip() for line in text.splitlines() if line.strip()]
    chevrons = sum(line.startswith(">>") for line in lines)
    return chevrons >= 2 and chevrons >= 0.6 * len(lines)
_TURN_RE = re.compile(
    rf"""^[ \t]*
    (?:{_TIME}[ \t]*[-–]?[ \t]*)?
    (?P<name>>>|SPEAKER[ _]?\d{{1,2}}|Speaker[ _]?\d{{1,2}}
        |[A-Za-z][\w.'’\-]*(?:[ \t][A-Z][\w.'’\-]*){{0,2}})
    (?:[ \t]*\((?P<org>[^)\n]{{1,40}})\))?
    (?:[ \t]*[-–]?[ \t]*(?P<time>{_TIME}))?
    (?:[ \t]*:|(?<=>>)[ \t]|[ \t]*$)""",
    re.MULTILINE | re.VERBOSE,
)


def find_turns(text: str):
    """Find speaker turns in a transcript.

    Parameters
    ----------
    text : str
        The raw text.

    Returns
    -------
    list of tuple
        ``(label_start, label_end, speaker, org)`` for each turn, where the
        label span covers the speaker label and any timestamps; empty when
        the text does not look like a transcript.

    Examples
    --------
    >>> [t[2] for t in find_turns("Rep: any blockers?\\nProspect: the budget")]
    ['rep', 'prospect']
    >>> find_turns("Reason: budget\\nNext steps: none")
    []
    """
    if ":" not in text and ">>" not in text:
        # A turn ends in a colon, carries a timestamp (which has one) or is
        # a ">>" line: none here.
        return []
    turns = []
    chevrons = _chevron_transcript(text)
    for m in _TURN_RE.finditer(text):
        name = m.group("name")
        if name == ">>" and not chevrons:
            continue
        key = re.sub(r"\s+", " ", name.strip().lower())
        line_end = text.find("\n", m.end())
        rest = text[m.end() : line_end if line_end != -1 else len(text)]
        ends_with_colon = text[m.start() : m.end()].rstrip().endswith(":")
        if key in _FIELD_LABELS:
            continue
        if name[0].islower() and key not in _ROLE_WORDS_REP | _ROLE_WORDS_BUYER:
            continue
        if not ends_with_colon and name != ">>":
            # "Jordan Lee 14:02" on its own line is a label; a capitalised
            # phrase alone on a line is not, unless it carries a timestamp.
            if not m.group("time") or rest.strip():
                continue
        turns.append((m.start("name") - _leading_time_len(text, m), m.end(), key, m.group("org")))
    speakers = {t[2] for t in turns}
    known = speakers & (_ROLE_WORDS_REP | _ROLE_WORDS_BUYER)
    if len(turns) < 2 or (len(speakers) < 2 and not known):
        # A single "Maria:" line is more likely a salutation or a field.
        return [] if not known or len(turns) < 1 else turns
    return turns


def _leading_time_len(text, m):
    # The label span starts at the line's first non-blank character, so a
    # leading "[00:12:31]" is part of it.
    line = text[m.start() : m.start("name")]
    return len(line) - (len(line) - len(line.lstrip()))


# --------------------------------------------------------------------------
# Noise.

_NOISE_TO_END = [
    # "On Tue, Mar 3, 2026 at 10:14 AM Dana <dana@x.com> wrote:" (may wrap)
    r"^[ \t>]*On\b[^\n]{0,250}(?:\n[^\n]{0,120})?\bwrote:[ \t]*$",
    r"^[ \t>]*Le\b[^\n]{0,250}a écrit ?:[ \t]*$",
    r"^[ \t>]*Am\b[^\n]{0,250}schrieb[^\n]{0,60}:[ \t]*$",
    r"^[ \t>]*-{2,}[ \t]*Original Message[ \t]*-{2,}",
    # Outlook reply header: From: ... then Sent:/Date: on the next line.
    r"^[ \t>]*From:[^\n]*\n[ \t>]*(?:Sent|Date):",
    # Signature delimiter.
    r"^-- ?$",
]
_NOISE_LINES = [
    r"^[ \t]*>.*$",
    r"^[ \t]*-{3,}[ \t]*Forwarded message[ \t]*-{3,}.*$",
    r"^[ \t]*Begin forwarded message:.*$",
    r"^[ \t]*(?:From|To|Cc|Bcc|Date|Sent|Subject)[ \t]*:.*$",
    r"^[ \t]*(?:Sent from my|Sent via|Sent using|Get Outlook for|Sent from Mail for)\b.*$",
    r"^[ \t]*(?:Von|Gesendet|An|Betreff|De|Envoyé|À|Objet)[ \t]*:.*$",
]
_MARKUP = r"</?[A-Za-z][^<>\n]{0,300}>|&(?:[A-Za-z]{2,8}|#\d{2,5}|#x[0-9a-fA-F]{2,4});"
_SIGNOFF = re.compile(
    r"^[ \t]*(?:best|thanks|thank you|thanks again|many thanks|regards|kind regards|"
    r"best regards|warm regards|warmly|cheers|sincerely|respectfully|br|thx|"
    r"talk soon|all the best|with thanks|mit freundlichen grüßen|cordialement|"
    r"saludos|un saludo|atenciosamente|obrigado|merci)[ \t]*[,.!-]?[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
_DISCLAIMER = re.compile(
    r"intended (?:solely )?(?:only )?(?:for|recipient)|received this (?:e-?mail|message|"
    r"communication|transmission) in error|confidentiality notice|disclaimer:|"
    r"privileged and(?:/or)? confidential|may contain (?:confidential|privileged)|"
    r"unsubscribe|please consider the environment before printing|"
    r"this (?:e-?mail|message) and any attachments",
    re.IGNORECASE,
)
_DISCLAIMER_CS = _case_sensitive(_DISCLAIMER)
_AUTO = re.compile("|".join(_NOISE_TO_END), re.MULTILINE | re.IGNORECASE)
_AUTO_CS = _case_sensitive(_AUTO, lower_literals=True)
_SIGNOFF_CS = _case_sensitive(_SIGNOFF)


def _finditer_first(pattern, twin, text):
    """True when the IGNORECASE ``pattern`` matches anywhere in ``text``."""
    return next(_finditer_nocase(pattern, twin, text), None) is not None
_LINES = re.compile("|".join(_NOISE_LINES), re.MULTILINE)
_MARKUP_RE = re.compile(_MARKUP)


def noise_spans(text: str, signatures: bool = True, disclaimers: bool = True):
    """Character spans of ``text`` that carry no words of the current writer.

    Examples
    --------
    >>> t = "No budget this year.\\n\\nOn Mon, Dana <d@x.io> wrote:\\n> Our ROI"
    >>> [t[a:b].split()[0] for a, b in noise_spans(t)]
    ['On']
    """
    spans = []
    lower = _lowered(text)
    m = next(_finditer_nocase(_AUTO, _AUTO_CS, text, lower), None)
    cut = len(text)
    if m:
        cut = m.start()
        spans.append((cut, len(text)))
    if _chevron_transcript(text[:cut]):
        # ">>" marks turns here, not quoted lines.
        spans.extend(m.span() for m in _LINES.finditer(text, 0, cut) if not text[m.start() : m.end()].lstrip().startswith(">"))
    else:
        spans.extend(m.span() for m in _LINES.finditer(text, 0, cut))
    spans.extend(m.span() for m in _MARKUP_RE.finditer(text, 0, cut))
    if signatures:
        for m in _finditer_nocase(_SIGNOFF, _SIGNOFF_CS, text, lower, cut):
            # The sign-off and the short lines under it (name, title, phone)
            # up to a blank line followed by prose.
            end = m.end()
            count = 0
            for line in re.finditer(r"\n([^\n]*)", text[m.end() : cut]):
                content = line.group(1).strip()
                if len(content) > 90 or count >= 8:
                    break
                count += 1
                end = m.end() + line.end()
            spans.append((m.start(), end))
    if disclaimers and _finditer_first(_DISCLAIMER, _DISCLAIMER_CS, text[:cut]):
        # Most notes have no footer; only those that match somewhere are
        # looked at paragraph by paragraph.
        pos = 0
        for para in re.split(r"(\n[ \t]*\n)", text[:cut]):
            if _DISCLAIMER.search(para):
                spans.append((pos, pos + len(para)))
            pos += len(para)
    return spans


@Language.factory(
    "objections_noise",
    default_config={"signatures": True, "disclaimers": True, "speaker_labels": True},
)
class NoiseMarker:
    """Flag quoted replies, signatures, disclaimers, markup and turn labels.

    Parameters
    ----------
    signatures : bool
        Flag sign-offs ("Best,") and the short lines beneath them.
    disclaimers : bool
        Flag paragraphs that read like legal footers.
    speaker_labels : bool
        Flag transcript speaker labels and timestamps.
    """

    def __init__(self, nlp, name, signatures, disclaimers, speaker_labels):
        self.name = name
        self.signatures = signatures
        self.disclaimers = disclaimers
        self.speaker_labels = speaker_labels

    def __call__(self, doc: Doc) -> Doc:
        text = _doc_text(doc)
        values = [False] * len(doc)
        spans = noise_spans(text, self.signatures, self.disclaimers)
        if self.speaker_labels:
            spans.extend((start, end) for start, end, _, _ in _doc_turns(doc))
        _mark_spans(doc, spans, values, True)
        doc._.obj_noise = values
        return doc


# --------------------------------------------------------------------------
# Speakers.

_REP_CUES = re.compile(
    r"\b(?:our (?:platform|product|solution|tool|pricing|roadmap|customers|"
    r"integration|team can|offering|engineers|support)|we offer|we (?:can|could) "
    r"(?:do|offer|help|give|discount|include|waive)|happy to|let me (?:show|send|"
    r"walk)|i(?:'ll| will) send|(?:a |any )?discount|does that make sense|"
    r"what if we|i (?:can|could) (?:get|offer|send|loop)|thanks for (?:taking|your "
    r"time|joining)|from our side|would it help|how are you (?:handling|doing)|"
    r"what are you using|tell me (?:more|about)|walk you through|our demo|"
    r"can i ask|do you (?:have|use|need))\b",
    re.IGNORECASE,
)
_BUYER_CUES = re.compile(
    r"\b(?:we use|we(?:'re| are) using|our (?:budget|cfo|ceo|cio|cto|board|staff|"
    r"reps|it|security|legal|procurement|finance|team|current|leadership|"
    r"clinicians|drivers|stores|plants|students|teachers)|we(?:'ve| have)? "
    r"decided|we(?:'ll| will) pass|going to pass|we need|we can't|we cannot|"
    r"for us|not for us|we went with|we(?:'re| are) going with|my boss|my team|"
    r"our side|we'd need|we would need|we don't|we didn't|we already have|"
    r"we've got|i don't see|i'm not sure|we're not)\b",
    re.IGNORECASE,
)


@Language.factory("objections_speakers", default_config={"infer_roles": True})
class SpeakerTagger:
    """Tag each token with the role of whoever said it: buyer or rep.

    Role words ("Rep:", "Prospect:", "Q:", "A:") decide directly.  Named or
    numbered speakers ("SPEAKER_01", "Maria (Acme)") get a role from what
    they say: sellers talk about "our platform" and offer discounts, buyers
    talk about "our budget" and what "we need".  A speaker shown with a
    company in brackets is taken as the buyer when that is the only hint.
    Text outside any turn has no role (``None``).

    Parameters
    ----------
    infer_roles : bool
        Guess roles for named speakers; when False they stay ``None``.
    """

    def __init__(self, nlp, name, infer_roles):
        self.name = name
        self.infer_roles = infer_roles

    def roles(self, text, turns):
        """Map each speaker key to "buyer", "rep" or None."""
        roles = {}
        unknown = []
        for _, _, speaker, _ in turns:
            if speaker in roles or speaker in unknown:
                continue
            if speaker in _ROLE_WORDS_REP:
                roles[speaker] = "rep"
            elif speaker in _ROLE_WORDS_BUYER:
                roles[speaker] = "buyer"
            else:
                unknown.append(speaker)
        if not unknown or not self.infer_roles:
            return roles
        score = dict.fromkeys(unknown, 0.0)
        has_org = {s: False for s in unknown}
        bounds = [t[1] for t in turns][1:] + [len(text)]
        for (_, end, speaker, org), stop in zip(turns, bounds):
            if speaker not in score:
                continue
            said = text[end:stop]
            score[speaker] += len(_BUYER_CUES.findall(said)) - len(_REP_CUES.findall(said))
            has_org[speaker] = has_org[speaker] or bool(org)
        if sum(has_org.values()) == 1:
            for s in unknown:
                score[s] += 0.5 if has_org[s] else -0.5
        taken = [r for r in roles.values()]
        if "rep" in taken and "buyer" not in taken:
            # One side is known; everyone unknown is on the other side.
            return {**roles, **dict.fromkeys(unknown, "buyer")}
        if "buyer" in taken and "rep" not in taken:
            return {**roles, **dict.fromkeys(unknown, "rep")}
        ranked = sorted(unknown, key=lambda s: score[s])
        if len(ranked) == 1:
            roles[ranked[0]] = "buyer" if score[ranked[0]] > 0 else "rep" if score[ranked[0]] < 0 else None
            return roles
        if score[ranked[0]] == score[ranked[-1]]:
            return {**roles, **dict.fromkeys(unknown)}
        # The most seller-sounding speaker is the rep; the rest are buyers
        # (calls often have several people on the buying side).
        roles[ranked[0]] = "rep"
        for s in ranked[1:]:
            roles[s] = "buyer"
        return roles

    def __call__(self, doc: Doc) -> Doc:
        text = _doc_text(doc)
        values = [None] * len(doc)
        turns = _doc_turns(doc)
        if turns:
            roles = self.roles(text, turns)
            bounds = [t[0] for t in turns][1:] + [len(text)]
            spans_by_role = {}
            for (start, _, speaker, _), stop in zip(turns, bounds):
                spans_by_role.setdefault(roles.get(speaker), []).append((start, stop))
            for role, spans in spans_by_role.items():
                if role is not None:
                    _mark_spans(doc, spans, values, role)
        doc._.obj_speaker = values
        return doc


# --------------------------------------------------------------------------
# Negation.

_NEG_CUES = {
    "not", "n't", "nt", "no", "never", "neither", "nor", "without", "none",
    "nothing", "nobody", "cannot", "lack", "lacks", "lacking", "missing",
}
_SCOPE_BREAK = {
    ",", ";", ":", ".", "!", "?", "(", ")", "-", "--", "—", "–", "/", "but",
    "however", "although", "though", "yet", "because", "since", "so", "and",
    "while", "whereas", "instead", "rather", "which", "that's", "just", "bc",
    "b/c", "cause", "cuz", "as",
}
_NEG_CUE_IDS = frozenset(get_string_id(word) for word in _NEG_CUES)
_SCOPE_BREAK_IDS = frozenset(get_string_id(word) for word in _SCOPE_BREAK)
_ISSUE_NOUNS = (
    r"issue|issues|problem|problems|concern|concerns|blocker|blockers|factor|"
    r"reason|deal[- ]?breaker|obstacle|hold[- ]?up|sticking point|worry|driver|"
    r"decider|deciding factor|dealbreaker|question|thing|point|hurdle|objection"
)
# "X isn't the issue", "X wasn't really a concern", "X is not what's holding
# us back", "X had nothing to do with it": X is named only to be set aside.
_DISMISS_BACKWARD = re.compile(
    r"\b(?:is|was|are|were|'s|'re|s|isn't|wasn't|aren't|weren't|isnt|wasnt|"
    r"arent|werent)?\s*(?:not|n't|never|no longer|hardly)\s+"
    r"(?:really\s+|actually\s+|even\s+|at all\s+|ever\s+)?"
    rf"(?:(?:the|a|an|our|my|their|much of an?|any|really an?|what)\s+)?(?:\w+\s+)?(?:{_ISSUE_NOUNS})\b"
    r"|\b(?:is|was|are|were|'s|'re|isn't|wasn't|aren't|weren't|isnt|wasnt)\s*"
    r"(?:not|n't)?\s*(?:what(?:'s| is| was)?\s+(?:holding|held|stopping|stopped|"
    r"blocking|blocked|driving|drove|killed|killing)|why\b|the reason\b)"
    r"|\b(?:had|has|have)\s+nothing to do with\b"
    r"|\b(?:is|was|were|are)\s+(?:fine|ok|okay|great|solid|good|not a problem|"
    r"no problem|a non-?issue|a nonissue|covered|sorted|handled)\b",
    re.IGNORECASE,
)
# "no issues with X", "not worried about X", "no concerns on X": X is set
# aside by what comes before it.
_DISMISS_FORWARD = re.compile(
    rf"\b(?:no|zero|not any|never had any|without any|don't have any|didn't have any)\s+"
    rf"(?:real\s+|major\s+|big\s+)?(?:{_ISSUE_NOUNS}|complaints?)\s+"
    r"(?:with|about|on|around|re|regarding|over)\b"
    r"|\b(?:not|n't|never)\s+(?:really\s+)?(?:worried|concerned|bothered|fussed)\s+"
    r"(?:about|with|by)\b",
    re.IGNORECASE,
)


_DISMISS_BACKWARD_CS = _case_sensitive(_DISMISS_BACKWARD)
_DISMISS_FORWARD_CS = _case_sensitive(_DISMISS_FORWARD)


@Language.factory("objections_negation", default_config={"window": 6})
class NegationMarker:
    """Mark tokens in the scope of a negation cue.

    Two kinds of scope are told apart, because they mean opposite things for
    an objection:

    * ``"negated"``: the thing is absent or refused ("no SSO", "doesn't
      integrate with NetSuite"); the scope runs forward from the cue up to
      ``window`` tokens or a clause break.
    * ``"dismissed"``: the thing is named only to be ruled out ("budget
      isn't the issue", "no concerns about security"); the scope is the
      clause before the dismissal, or the words after "no concerns about".

    Parameters
    ----------
    window : int
        Maximum number of tokens a forward negation reaches.
    """

    def __init__(self, nlp, name, window):
        self.name = name
        self.window = window

    def __call__(self, doc: Doc) -> Doc:
        n = len(doc)
        values = [NEG_NONE] * n
        if not n:
            doc._.obj_negation = values
            return doc
        text = _doc_text(doc)
        index = _char_to_token_index(doc)
        # Token attributes as arrays (no Token objects); words are compared
        # by their string hash.
        _, _, _, lower_ids, is_space, _ = _doc_columns(doc)
        sent_start = _doc_sent_starts(doc)
        is_cue = [h in _NEG_CUE_IDS for h in lower_ids]
        is_break = [h in _SCOPE_BREAK_IDS for h in lower_ids]
        consumed = [False] * n  # cue tokens already explained by a dismissal
        lower = _lowered(text)
        for m in _finditer_nocase(_DISMISS_BACKWARD, _DISMISS_BACKWARD_CS, text, lower):
            first, last = index(m.start()), index(m.end() - 1)
            for i in range(first, last + 1):
                consumed[i] = True
            i = first - 1
            while i >= 0 and not is_break[i] and not is_space[i]:
                values[i] = NEG_DISMISSED
                if sent_start[i]:
                    break
                i -= 1
        for m in _finditer_nocase(_DISMISS_FORWARD, _DISMISS_FORWARD_CS, text, lower):
            first, last = index(m.start()), index(m.end() - 1)
            for i in range(first, last + 1):
                consumed[i] = True
            i, reach = last + 1, 0
            while i < n and reach < self.window and not is_break[i]:
                if sent_start[i] or is_space[i]:
                    break
                values[i] = NEG_DISMISSED
                i += 1
                reach += 1
        for c in range(n):
            if not is_cue[c] or consumed[c]:
                continue
            i, reach = c + 1, 0
            while i < n and reach < self.window:
                if sent_start[i] or is_break[i] or is_space[i]:
                    break
                if is_cue[i]:
                    i += 1
                    continue
                if values[i] == NEG_NONE:
                    values[i] = NEG_NEGATED
                i += 1
                reach += 1
        doc._.obj_negation = values
        return doc


# --------------------------------------------------------------------------
# Normalization.

_NUMBER = r"\d+(?:[.,]\d+)*"
_PLACEHOLDER_PATTERNS = [
    ("url", r"\b(?:https?://|www\.)\S+"),
    ("email", r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"),
    ("phone", r"(?<![\w.])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?)?\d{3,4}[ .-]\d{3,4}(?:[ .-]\d{2,4})?(?![\w.%])"),
    (
        "money",
        rf"(?:[$€£¥₹]|\b(?:usd|eur|gbp|cad|aud|inr|chf)\s?)\s?{_NUMBER}(?:\s?(?:[kmb]|mm|bn|million|billion|thousand|grand)\b)?"
        rf"|\b{_NUMBER}\s?(?:[kmb]|mm|bn)?\s?(?:usd|eur|gbp|dollars|bucks|euros|pounds)\b"
        rf"|\b{_NUMBER}\s?(?:k|mm|bn)\b(?!\w)"
        rf"|\b{_NUMBER}\s?(?:million|billion|grand)\b",
    ),
    ("percent", rf"\b{_NUMBER}\s?(?:%|percent\b|pct\b|pts?\b)"),
    (
        "quarter",
        r"\b(?:q[1-4]|h[12]|fy\s?'?\d{2,4}|cy\s?'?\d{2,4})(?:\s?['’]?\d{2,4})?\b|\b(?:eoq|eoy|boq|qoq|yoy)\b",
    ),
    (
        "date",
        r"\b\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}\b|\b(?:19|20)\d{2}\b"
        r"|\b(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|jun(?:e)?|jul(?:y)?|aug(?:ust)?"
        r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?\s\d{1,2}(?:st|nd|rd|th)?\b"
        r"|\b\d{1,2}(?:st|nd|rd|th)?\s(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?"
        r"|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b",
    ),
    ("number", rf"\b{_NUMBER}(?:st|nd|rd|th|x)?\b"),
]
_PLACEHOLDER_RE = re.compile(
    "|".join(f"(?P<{name}>{pattern})" for name, pattern in _PLACEHOLDER_PATTERNS),
    re.IGNORECASE,
)
# Scanning a note with the whole placeholder pattern costs more than all the
# rest of the pipeline: ``re`` tries every alternative at every character.
# But every match of a placeholder starts close before a digit (at most
# _DIGIT_REACH characters: "september. 3", "usd  45"), or where a URL hint,
# an e-mail's "@" run or a digit-free quarter word ("eoq") starts.  Trying
# the pattern only at those positions, leftmost first and past the previous
# match, yields exactly what ``finditer`` yields.
_DIGIT_RUN_RE = re.compile(r"\d+")
_DIGIT_REACH = 16
_URL_HINT_RE = re.compile(r"https?://|www\.", re.IGNORECASE)
_QUARTER_WORD_RE = re.compile(r"eoq|eoy|boq|qoq|yoy", re.IGNORECASE)
_EMAIL_CHAR_RE = re.compile(r"[\w.+-]")
_HINTS = [(hint, _case_sensitive(hint)) for hint in (_URL_HINT_RE, _QUARTER_WORD_RE)]


def _placeholder_starts(text):
    """Positions where a placeholder match may start, in order."""
    starts = set()
    for m in _DIGIT_RUN_RE.finditer(text):
        starts.update(range(max(m.start() - _DIGIT_REACH, 0), m.end()))
    lower = _lowered(text)
    for hint, twin in _HINTS:
        starts.update(m.start() for m in _finditer_nocase(hint, twin, text, lower))
    at = text.find("@")
    while at != -1:
        i = at - 1
        while i >= 0 and _EMAIL_CHAR_RE.match(text, i):
            starts.add(i)
            i -= 1
        at = text.find("@", at + 1)
    return sorted(starts)


def _placeholder_matches(text):
    """``_PLACEHOLDER_RE.finditer(text)``, trying only where a match can start."""
    starts = _placeholder_starts(text)
    if len(starts) * 4 > len(text):
        # Digits everywhere (tables, logs): one scan is cheaper.
        yield from _PLACEHOLDER_RE.finditer(text)
        return
    match = _PLACEHOLDER_RE.match
    end = 0
    for start in starts:
        if start < end:
            continue
        m = match(text, start)
        if m is not None:
            yield m
            end = m.end()


# Distinct words whose term the normalizer remembers; past this the memo
# starts over, so memory stays flat on endless streams of new words.
_TERM_CACHE_MAX = 200_000


@Language.factory("objections_normalize", default_config={"placeholders": True})
class Normalizer:
    """Give every token the term the classifier sees.

    Money, percentages, quarters, dates, other numbers, URLs, e-mail
    addresses and phone numbers become placeholders (``__money__``...);
    a placeholder spanning several tokens ("$ 45 k") is given to the first
    and the rest get ``""``, as do punctuation and whitespace.  Other tokens
    get their lower-cased lookup lemma.

    Parameters
    ----------
    placeholders : bool
        Replace the entities above by placeholders; when False their
        lemmas are kept.
    """

    def __init__(self, nlp, name, placeholders):
        self.name = name
        self.placeholders = placeholders
        # The lookup table is keyed by the exact word, so "Froze" would miss
        # what "froze" finds; looking up the lower-cased word makes notes in
        # ALL CAPS or Title Case count the same as the rest.
        self._table = None
        self._terms = {}
        if "lemmatizer" in nlp.pipe_names:
            lemmatizer = nlp.get_pipe("lemmatizer")
            lookups = getattr(lemmatizer, "lookups", None)
            if getattr(lemmatizer, "mode", None) == "lookup" and lookups and lookups.has_table("lemma_lookup"):
                self._table = lookups.get_table("lemma_lookup")

    def __call__(self, doc: Doc) -> Doc:
        table = self._table
        if table is not None:
            # The term depends only on the word (its lexeme), so it is looked
            # up once per distinct word and then read from a dictionary.
            terms = self._terms
            if len(terms) > _TERM_CACHE_MAX:
                terms.clear()
            orths = _doc_columns(doc)[2]
            values = [terms.get(orth) for orth in orths]
            if None in values:
                vocab = doc.vocab
                for i, value in enumerate(values):
                    if value is None:
                        lexeme = vocab[orths[i]]
                        if lexeme.is_punct or lexeme.is_space:
                            value = ""
                        else:
                            lower = lexeme.lower_
                            value = table.get(lower, lower)
                        values[i] = terms[orths[i]] = value
        else:
            values = ["" if t.is_punct or t.is_space else (t.lemma_ or t.text).lower() for t in doc]
        if self.placeholders and len(doc):
            index = _char_to_token_index(doc)
            for m in _placeholder_matches(_doc_text(doc)):
                first, last = index(m.start()), index(m.end() - 1)
                values[first] = f"__{m.lastgroup}__"
                for i in range(first + 1, last + 1):
                    values[i] = ""
        doc._.obj_norm = values
        return doc


# --------------------------------------------------------------------------
# Building the Language.


def _split_markup(nlp):
    """Teach the tokenizer that HTML tags and entities are tokens of their own."""
    markup = [r"</?[A-Za-z][^<>\s]{0,20}(?:\s[^<>]{0,200})?>", r"&(?:[A-Za-z]{2,8}|#\d{2,5});"]
    nlp.tokenizer.prefix_search = compile_prefix_regex(markup + list(nlp.Defaults.prefixes)).search
    nlp.tokenizer.suffix_search = compile_suffix_regex(markup + list(nlp.Defaults.suffixes)).search
    # A tag with attributes spans several whitespace-separated pieces; the
    # closing ">" must not glue it to the word after it ('class="x">No').
    infixes = markup + [r">(?=[^\s<>])"] + list(nlp.Defaults.infixes)
    nlp.tokenizer.infix_finditer = compile_infix_regex(infixes).finditer


def build_nlp(spacy_model: str | None = None, disable: tuple = (), lexicon=None) -> Language:
    """Build the preprocessing ``Language``.

    Parameters
    ----------
    spacy_model : str or None
        ``None`` for ``spacy.blank("en")`` with lookup lemmas, or the name of
        an installed spaCy pipeline package or a path to a saved pipeline;
        our components are added to it.
    disable : tuple of str
        Our components to leave out (for ablations), e.g.
        ``("objections_negation",)``.  A disabled component still runs as a
        no-op so that downstream code sees the same attributes.
    lexicon : objections.lexicon.Lexicon, optional
        A team's competitor names, product names and abbreviations; the
        tokenizer rewrites them before anything else runs.

    Returns
    -------
    spacy.language.Language
    """
    unknown = [name for name in disable if name not in COMPONENTS]
    if unknown:
        raise ValueError(f"unknown component {unknown[0]!r}; expected one of {COMPONENTS}")
    if spacy_model in (None, "", "blank:en"):
        nlp = spacy.blank("en")
        _split_markup(nlp)
    else:
        try:
            nlp = spacy.load(spacy_model, exclude=["ner", "textcat", "textcat_multilabel"])
        except OSError as exc:
            from .errors import ObjectionsError

            raise ObjectionsError(
                f"Cannot load the spaCy pipeline {spacy_model!r}: it is neither an "
                "installed package nor a saved pipeline directory. Install it with pip "
                "or leave out --spacy-model to use the built-in blank English pipeline."
            ) from exc
    nlp.tokenizer = _TextKeepingTokenizer(nlp.tokenizer)
    if "senter" not in nlp.pipe_names and "parser" not in nlp.pipe_names:
        nlp.add_pipe("objections_sentencizer", first=True)
    nlp.add_pipe("objections_linebreaks")
    nlp.add_pipe("objections_noise")
    nlp.add_pipe("objections_speakers")
    nlp.add_pipe("objections_negation")
    if "lemmatizer" not in nlp.pipe_names:
        nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
        # Loads the English lookup table from spacy-lookups-data: a local
        # package, no download.
        nlp.get_pipe("lemmatizer").initialize()
    nlp.add_pipe("objections_normalize")
    if nlp.get_pipe("objections_normalize")._table is not None:
        # The normalizer looks every lemma up itself (lower-cased), so the
        # lemmatizer's own pass over the tokens is work nothing reads; it
        # stays in the pipeline, disabled, as the owner of the table.
        nlp.disable_pipe("lemmatizer")
    for name in disable:
        nlp.replace_pipe(name, "objections_null", config={"attr": _DISABLED_ATTR[name]})
    if lexicon is not None:
        lexicon.attach(nlp)
    return nlp


_DISABLED_ATTR = {
    "objections_linebreaks": "",
    "objections_noise": "obj_noise",
    "objections_speakers": "obj_speaker",
    "objections_negation": "obj_negation",
    "objections_normalize": "obj_norm_lower",
}


@Language.factory("objections_null", default_config={"attr": ""})
class NullComponent:
    """Stand-in for a disabled component: writes neutral values."""

    def __init__(self, nlp, name, attr):
        self.name = name
        self.attr = attr

    def __call__(self, doc):
        n = len(doc)
        if self.attr == "obj_noise":
            doc._.obj_noise = [False] * n
        elif self.attr == "obj_speaker":
            doc._.obj_speaker = [None] * n
        elif self.attr == "obj_negation":
            doc._.obj_negation = [NEG_NONE] * n
        elif self.attr == "obj_norm_lower":
            doc._.obj_norm = ["" if t.is_punct or t.is_space else t.lower_ for t in doc]
        return doc


def get_nlp(spacy_model: str | None = None, disable: tuple = (), lexicon=None) -> Language:
    """Return the process-wide ``Language`` for these settings (built once)."""
    # Spelled-out defaults and argument order must hit the same cache entry.
    return _cached_nlp(spacy_model or None, tuple(sorted(disable or ())), lexicon)


@lru_cache(maxsize=8)
def _cached_nlp(spacy_model, disable, lexicon):
    return build_nlp(spacy_model, disable, lexicon)
