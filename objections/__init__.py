"""objections: read the "no"s in sales.

Tag sales notes, CRM closed-lost reasons, prospect e-mails and call
transcripts with why the buyer said no: ``pitch``, ``product_fit``,
``market`` or ``none``.

Examples
--------
>>> import objections
>>> clf = objections.load()
>>> clf.predict(["budget frozen until Q3"]).tolist()
['market']
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("objections")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

from .classifier import ObjectionClassifier
from .errors import InputError, LabelError, ModelError, ObjectionsError
from .labels import LABELS, OBJECTIONS
from .persist import load
from .scoring import score_file, score_frame
from .training import cross_validate, train

__all__ = [
    "ObjectionClassifier",
    "load",
    "train",
    "cross_validate",
    "score_frame",
    "score_file",
    "LABELS",
    "OBJECTIONS",
    "ObjectionsError",
    "InputError",
    "LabelError",
    "ModelError",
    "__version__",
]
