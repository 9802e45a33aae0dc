"""Errors the user can act on."""

__all__ = ["ObjectionsError", "InputError", "LabelError", "ModelError"]


class ObjectionsError(Exception):
    """Base class: a problem the user can fix, with a message saying how."""


class InputError(ObjectionsError):
    """An input file, column or value is not usable."""


class LabelError(InputError):
    """A label cell is unknown or malformed."""


class ModelError(ObjectionsError):
    """A model file is missing, damaged, untrusted or from another version."""
