"""The label set and the label-cell format (see docs/labelling-guide.md)."""

from __future__ import annotations

import math

from .errors import LabelError

__all__ = ["LABELS", "OBJECTIONS", "NONE", "parse_labels", "format_labels"]

#: The objection labels, in the order reports show them.
OBJECTIONS = ("pitch", "product_fit", "market")
#: The label for a text that carries no objection.
NONE = "none"
#: Every label, objections first.
LABELS = OBJECTIONS + (NONE,)

_ALIASES = {
    "product-fit": "product_fit",
    "product fit": "product_fit",
    "productfit": "product_fit",
    "fit": "product_fit",
    "why": "pitch",
    "market_shift": "market",
    "market-shift": "market",
    "no_objection": "none",
}


def parse_labels(cell, row=None) -> tuple[str, ...]:
    """Parse one label cell into a tuple of labels, primary first.

    Parameters
    ----------
    cell : str, list or tuple
        ``"market"``, ``"market;product_fit"`` or a sequence of labels.
    row : int or str, optional
        Where the cell came from, for the error message.

    Returns
    -------
    tuple of str

    Raises
    ------
    LabelError
        On an empty cell, an unknown label, or ``none`` mixed with an
        objection.

    Examples
    --------
    >>> parse_labels("Market; product fit")
    ('market', 'product_fit')
    >>> parse_labels("budget", row=7)
    Traceback (most recent call last):
    ...
    objections.errors.LabelError: row 7: unknown label 'budget'; labels are pitch, product_fit, market, none
    """
    where = f"row {row}: " if row is not None else ""
    if cell is None or (isinstance(cell, float) and math.isnan(cell)):
        raise LabelError(f"{where}the label cell is empty")
    parts = cell.split(";") if isinstance(cell, str) else list(cell)
    labels = []
    for part in parts:
        name = str(part).strip().lower()
        if not name:
            continue
        name = _ALIASES.get(name, name).replace(" ", "_")
        if name not in LABELS:
            raise LabelError(
                f"{where}unknown label {str(part).strip()!r}; labels are {', '.join(LABELS)}"
            )
        if name not in labels:
            labels.append(name)
    if not labels:
        raise LabelError(f"{where}the label cell is empty")
    if NONE in labels and len(labels) > 1:
        raise LabelError(f"{where}'none' cannot be combined with an objection label ({cell!r})")
    return tuple(labels)


def format_labels(labels) -> str:
    """Join labels into a cell: ``("market", "pitch") -> "market;pitch"``."""
    return ";".join(labels)
