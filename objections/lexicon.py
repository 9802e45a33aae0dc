"""A team's own vocabulary: competitor names, product names and shorthand.

A lexicon file (YAML or JSON) has up to three sections::

    competitors: [Acmecorp, Fleetwise, Routemaster Pro]
    products: [DispatchIQ, CrewPal]
    abbreviations:
      w/: with
      bc: because
      HF: hiring freeze

Before a note is tokenized, every competitor name becomes
``__competitor__``, every own product name ``__product__`` and every
abbreviation its expansion, matched case-insensitively as whole words, so
"went w/ Acmecorp bc no SSO" is read as "went with __competitor__ because
no SSO".  Notes about different competitors then share their features, and
shorthand is read as the words the default model was trained on.

The rewrite happens in the spaCy tokenizer of the pipeline (see
:meth:`Lexicon.attach`); the original text and a map of the edits are kept
on the ``Doc``, so evidence sentences are still cited from the note as
written.  The lexicon is stored in the model as plain data (the
``lexicon`` parameter of :class:`objections.ObjectionClassifier`) and so is
applied when the model scores.

Examples
--------
>>> lex = Lexicon.from_dict({"competitors": ["Acmecorp"], "abbreviations": {"w/": "with", "bc": "because"}})
>>> lex.rewrite("went w/ Acmecorp bc no SSO")[0]
'went with __competitor__ because no SSO'
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from spacy.symbols import ORTH
from spacy.tokens import Doc

from .errors import InputError
from .preprocess import TokenizerWrapper

__all__ = ["Lexicon", "load_lexicon", "COMPETITOR", "PRODUCT"]

#: What a competitor's name is replaced with.
COMPETITOR = "__competitor__"
#: What one of the team's own product names is replaced with.
PRODUCT = "__product__"

_SECTIONS = ("competitors", "products", "abbreviations")

if not Doc.has_extension("obj_source"):
    # (original text, edits) when the lexicon rewrote the text, else None.
    Doc.set_extension("obj_source", default=None)


def _clean_term(value, where):
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise InputError(f"{where}: expected a word or phrase, found {value!r}")
    term = " ".join(str(value).split())
    if not term:
        raise InputError(f"{where}: an entry is empty")
    return term


@dataclass(frozen=True)
class Lexicon:
    """Competitor names, own product names and abbreviations of one team.

    Immutable and hashable, so a spaCy pipeline can be built once per
    lexicon and cached.

    Parameters
    ----------
    competitors : tuple of str
    products : tuple of str
    abbreviations : tuple of (str, str)
        ``(short form, expansion)`` pairs.
    """

    competitors: tuple = ()
    products: tuple = ()
    abbreviations: tuple = ()

    @classmethod
    def from_dict(cls, data, source="the lexicon"):
        """Build from ``{"competitors": [...], "products": [...], "abbreviations": {...}}``.

        Raises
        ------
        InputError
            Unknown sections, entries that are not words, empty entries, or a
            term listed twice with different meanings.
        """
        if isinstance(data, Lexicon):
            return data
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise InputError(
                f"{source} must be a mapping with the sections {', '.join(_SECTIONS)}; "
                f"found {type(data).__name__}"
            )
        unknown = sorted(str(k) for k in data if k not in _SECTIONS)
        if unknown:
            raise InputError(
                f"{source} has unknown section(s) {', '.join(map(repr, unknown))}; "
                f"the sections are {', '.join(_SECTIONS)}"
            )
        lists = {}
        for section in ("competitors", "products"):
            entries = data.get(section) or []
            if isinstance(entries, (str, dict)):
                raise InputError(f"{source}: {section} must be a list of names")
            lists[section] = tuple(
                _clean_term(v, f"{source}, {section} entry {i + 1}") for i, v in enumerate(entries)
            )
        abbrevs = data.get("abbreviations") or {}
        if not isinstance(abbrevs, dict):
            raise InputError(f"{source}: abbreviations must map each short form to its expansion")
        pairs = tuple(
            (_clean_term(k, f"{source}, abbreviations"), _clean_term(v, f"{source}, abbreviation {k!r}"))
            for k, v in abbrevs.items()
        )
        lexicon = cls(lists["competitors"], lists["products"], pairs)
        lexicon._check_conflicts(source)
        return lexicon

    def _check_conflicts(self, source):
        seen = {}
        for term, replacement in self._entries():
            key = term.lower()
            if key in seen and seen[key] != replacement:
                raise InputError(
                    f"{source}: {term!r} is listed twice with different meanings "
                    f"({seen[key]!r} and {replacement!r}); keep one"
                )
            seen[key] = replacement

    def _entries(self):
        for name in self.competitors:
            yield name, COMPETITOR
        for name in self.products:
            yield name, PRODUCT
        yield from self.abbreviations

    def to_dict(self):
        """Plain data (lists and a dict of strings): what a model stores."""
        return {
            "competitors": list(self.competitors),
            "products": list(self.products),
            "abbreviations": dict(self.abbreviations),
        }

    def __len__(self):
        return len(self.competitors) + len(self.products) + len(self.abbreviations)

    @property
    def sha256(self):
        """Hash of the lexicon's content, for model metadata."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()

    def summary(self):
        """Counts and hash, plus the entries themselves, for the model card."""
        return {
            "competitors": len(self.competitors),
            "products": len(self.products),
            "abbreviations": len(self.abbreviations),
            "sha256": self.sha256,
            "entries": self.to_dict(),
        }

    # -- rewriting -----------------------------------------------------------

    @cached_property
    def _replacements(self):
        return {term.lower(): replacement for term, replacement in self._entries()}

    @cached_property
    def _pattern(self):
        if not len(self):
            return None
        alternatives = []
        # Longest first, so "w/o" wins over "w/" and "Routemaster Pro" over
        # "Routemaster".
        for term in sorted(self._replacements, key=lambda t: (-len(t), t)):
            body = r"\s+".join(re.escape(part) for part in term.split(" "))
            # A word boundary only where the term itself starts or ends with
            # a word character: "w/" must match in "w/Acmecorp", though not
            # in "w/e", where one letter after it makes another shorthand.
            before = r"(?<!\w)" if re.match(r"\w", term) else ""
            after = r"(?!\w)" if re.search(r"\w$", term) else r"(?!\w(?!\w))"
            alternatives.append(before + body + after)
        return re.compile("|".join(alternatives), re.IGNORECASE)

    def rewrite(self, text):
        """Replace every lexicon term in ``text``.

        Returns
        -------
        new_text : str
        edits : list of tuple
            ``(new_start, new_end, old_start, old_end)`` per replacement, in
            order; empty when nothing matched.
        """
        pattern = self._pattern
        if pattern is None:
            return text, []
        parts, edits = [], []
        pos = shift = 0
        for m in pattern.finditer(text):
            replacement = self._replacements[" ".join(m.group(0).lower().split())]
            # "w/Acmecorp" must not become one word "with__competitor__".
            if m.start() > 0 and _glues(text[m.start() - 1], replacement[0]):
                replacement = " " + replacement
            if m.end() < len(text) and _glues(replacement[-1], text[m.end()]):
                replacement = replacement + " "
            parts.append(text[pos : m.start()])
            new_start = m.start() + shift
            parts.append(replacement)
            edits.append((new_start, new_start + len(replacement), m.start(), m.end()))
            shift += len(replacement) - (m.end() - m.start())
            pos = m.end()
        if not edits:
            return text, []
        parts.append(text[pos:])
        return "".join(parts), edits

    # -- the spaCy side --------------------------------------------------------

    def attach(self, nlp):
        """Make ``nlp`` rewrite texts with this lexicon before tokenizing them."""
        for placeholder in (COMPETITOR, PRODUCT):
            # Underscores are split off as punctuation otherwise.
            nlp.tokenizer.add_special_case(placeholder, [{ORTH: placeholder}])
        nlp.tokenizer = LexiconTokenizer(nlp.tokenizer, self)
        return nlp

    @staticmethod
    def restore(note, doc):
        """Point a :class:`~objections.features.NoteFeatures` back at the original text.

        Sentence offsets are mapped from the rewritten text to the text as
        written, so evidence quotes the note, not its rewrite.
        """
        source = doc._.obj_source
        if source is None:
            return note
        original, edits = source
        note.sentences = [
            (_to_source(start, edits, end=False), _to_source(stop, edits, end=True), terms)
            for start, stop, terms in note.sentences
        ]
        note.text = original
        return note


def _glues(left, right):
    return bool(re.match(r"\w", left) and re.match(r"\w", right))


def _to_source(pos, edits, end):
    """Map an offset in the rewritten text to the original text."""
    shift = 0
    for new_start, new_end, old_start, old_end in edits:
        if pos < new_start or (end and pos == new_start):
            break
        if pos < new_end or (end and pos == new_end):
            return old_end if end else old_start
        shift = old_end - new_end
    return pos + shift


class LexiconTokenizer(TokenizerWrapper):
    """A spaCy tokenizer that rewrites lexicon terms, then tokenizes.

    The ``Doc`` holds the rewritten text; ``doc._.obj_source`` holds the
    original and the edits (see :meth:`Lexicon.restore`).
    """

    _OWN = ("tokenizer", "lexicon")

    def __init__(self, tokenizer, lexicon):
        super().__init__(tokenizer)
        self.lexicon = lexicon

    def __call__(self, text):
        new_text, edits = self.lexicon.rewrite(text)
        doc = self.tokenizer(new_text)
        if edits:
            doc._.obj_source = (text, edits)
        return doc


def load_lexicon(path):
    """Read a lexicon file (YAML or JSON).

    Raises
    ------
    InputError
        When the file is missing, is not valid YAML/JSON, or its content is
        not a lexicon (see :meth:`Lexicon.from_dict`).
    """
    import yaml

    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise InputError(f"No lexicon file at {path}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"Cannot read the lexicon {path}: {exc}") from exc
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise InputError(f"{path} is not valid YAML or JSON: {exc}") from exc
    lexicon = Lexicon.from_dict(data, source=str(path))
    if not len(lexicon):
        raise InputError(f"{path} lists no competitors, products or abbreviations")
    return lexicon
