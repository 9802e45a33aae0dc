"""Saving and loading models: skops files, metadata, checksums, versions.

A model is a directory::

    MODEL/
      model.skops      the fitted ObjectionClassifier (skops format: no pickle)
      metadata.json    labels, thresholds, versions, data hashes, metrics
      MODEL_CARD.md    the same, for people

Loading checks the checksum and versions recorded in ``metadata.json``
before it reads ``model.skops``, and then loads it with a short, explicit
list of trusted types, so a model file cannot run code.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import shutil
import tempfile
import zipfile
from importlib import metadata as _md
from importlib import resources
from pathlib import Path

from .errors import ModelError
from .preprocess import PIPELINE_VERSION

__all__ = ["save", "load", "read_metadata", "default_model_path", "TRUSTED_TYPES", "FORMAT_VERSION"]

MODEL_FILE = "model.skops"
METADATA_FILE = "metadata.json"
CARD_FILE = "MODEL_CARD.md"
FORMAT_VERSION = 1

#: Types a model file may contain beyond those skops trusts by default
#: (scikit-learn, NumPy and SciPy types).  Reviewed: each is a plain data
#: holder of this package whose state is set attribute by attribute.
TRUSTED_TYPES = [
    "objections.classifier.ObjectionClassifier",
    "objections.features.NoteVectorizer",
    "objections.multilabel.ThresholdedOneVsRest",
    "objections.multilabel._ConstantModel",
]

#: Libraries whose (major, minor) must match between saving and loading.
_PINNED = ("scikit-learn", "skops", "spacy")
#: Environment variable and config file that choose the default model.
ENV_VAR = "OBJECTIONS_MODEL"


def _version(dist):
    try:
        return _md.version(dist)
    except _md.PackageNotFoundError:
        return None


def versions():
    """Versions of the libraries a model depends on."""
    return {
        "objections": _version("objections"),
        "scikit-learn": _version("scikit-learn"),
        "spacy": _version("spacy"),
        "skops": _version("skops"),
        "numpy": _version("numpy"),
        "python": platform.python_version(),
    }


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save(clf, path, *, training=None, metrics=None, extra=None):
    """Save a fitted classifier as a model directory.

    The directory is written beside its final place and renamed into it,
    so an interrupted save never leaves a half-written model under
    ``path``.  An existing model directory at ``path`` is replaced; any
    other existing file or non-empty directory is an error.

    Parameters
    ----------
    clf : ObjectionClassifier
        A fitted classifier.
    path : str or Path
        The model directory to write.
    training : dict, optional
        Facts about the training data (hash, size, sources).
    metrics : dict, optional
        Cross-validated metrics to record.
    extra : dict, optional
        Anything else to record in the metadata.

    Returns
    -------
    pathlib.Path
        The model directory.
    """
    import skops.io as sio
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(clf, "model_")
    path = Path(path)
    if path.exists() and not (path / METADATA_FILE).exists():
        if path.is_file() or any(p.name != "__init__.py" for p in path.iterdir()):
            raise ModelError(
                f"{path} exists and is not a model directory; choose a new path for the model"
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    # mkdtemp makes the folder private; a model is shared like any other file.
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)
    try:
        sio.dump(clf, tmp / MODEL_FILE, compression=zipfile.ZIP_DEFLATED)
        meta = {
            "format_version": FORMAT_VERSION,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "labels": list(clf.classes_),
            "thresholds": clf.thresholds_,
            "spacy_pipeline": clf.spacy_model or "blank:en",
            "pipeline_version": PIPELINE_VERSION,
            "disabled_components": list(clf.disable),
            "params": {k: _jsonable(v) for k, v in clf.get_params().items()},
            "versions": versions(),
            "training": training or {},
            "metrics": metrics or {},
            "sha256": _sha256(tmp / MODEL_FILE),
        }
        if extra:
            meta.update(extra)
        (tmp / METADATA_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        (tmp / CARD_FILE).write_text(model_card(meta), encoding="utf-8")
        if path.exists():
            # Files of our own beside the model (the default model's
            # package __init__.py) survive a retrain.
            for item in path.iterdir():
                if item.is_file() and item.name not in (MODEL_FILE, METADATA_FILE, CARD_FILE):
                    shutil.copy2(item, tmp / item.name)
        replace_dir(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def replace_dir(tmp, dest):
    """Move the finished directory ``tmp`` to ``dest``, replacing any old one.

    Each step is a rename, so ``dest`` is at every moment either the old
    directory or the new one, never a mix.
    """
    tmp, dest = Path(tmp), Path(dest)
    if dest.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old.", dir=dest.parent))
        os.replace(dest, old / "model")
        os.replace(tmp, dest)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, dest)


def _jsonable(value):
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return repr(value)


def default_model_path():
    """The model used when none is named.

    In order: the ``OBJECTIONS_MODEL`` environment variable, the model
    promoted with ``objections promote`` (recorded in the user config
    file), then the model shipped in the package.
    """
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    from .config import promoted_model

    promoted = promoted_model()
    if promoted:
        return promoted
    try:
        return Path(str(resources.files("objections.default_model")))
    except ModuleNotFoundError:
        # Running from a source checkout: the model is models/default.
        return Path(__file__).resolve().parents[1] / "models" / "default"


def read_metadata(path):
    """Read and sanity-check ``metadata.json`` of a model directory."""
    path = Path(path)
    if not path.exists():
        raise ModelError(f"No model at {path}: the path does not exist")
    if path.is_file():
        if path.name == MODEL_FILE or path.suffix == ".skops":
            path = path.parent
        else:
            raise ModelError(
                f"{path} is a file; a model is a directory holding {MODEL_FILE} and {METADATA_FILE}"
            )
    meta_path = path / METADATA_FILE
    if not meta_path.is_file() or not (path / MODEL_FILE).is_file():
        raise ModelError(
            f"{path} is not a model directory: it must hold {MODEL_FILE} and {METADATA_FILE} "
            "(made by `objections train -o DIR`)"
        )
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelError(f"{meta_path} is not valid JSON ({exc}); the model is damaged") from exc
    if not isinstance(meta, dict) or not isinstance(meta.get("versions"), dict) or "sha256" not in meta:
        raise ModelError(f"{meta_path} lacks versions or checksum; the model is damaged")
    return meta


def _major_minor(version):
    parts = (version or "").split(".")
    return tuple(parts[:2])


def check_compatible(meta, path):
    """Raise ModelError if the model was made by incompatible library versions."""
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelError(
            f"The model at {path} has format version {meta.get('format_version')}, this "
            f"objections reads version {FORMAT_VERSION}. Retrain it with `objections train`."
        )
    if meta.get("pipeline_version") != PIPELINE_VERSION:
        raise ModelError(
            f"The model at {path} was made with preprocessing version {meta.get('pipeline_version')}; "
            f"this objections uses version {PIPELINE_VERSION}, so its features would not match. "
            "Retrain it with `objections train DATA -o MODEL`."
        )
    made = meta["versions"]
    here = versions()
    differ = [
        f"{lib} {made.get(lib)} (installed: {here.get(lib)})"
        for lib in _PINNED
        if _major_minor(made.get(lib)) != _major_minor(here.get(lib))
    ]
    if differ:
        raise ModelError(
            f"The model at {path} was made with {', '.join(differ)}. Retrain it with "
            "`objections train DATA -o MODEL` in this environment, or install the versions it was made with."
        )


def load(path=None):
    """Load a model directory.

    Parameters
    ----------
    path : str, Path or None
        A model directory (or its ``model.skops``); None for the default
        model (see :func:`default_model_path`).

    Returns
    -------
    ObjectionClassifier

    Raises
    ------
    ModelError
        If the path is not a model, the file is damaged or was altered
        after saving, holds types outside :data:`TRUSTED_TYPES`, or was
        made by incompatible library versions.
    """
    import skops.io as sio

    path = Path(path) if path is not None else default_model_path()
    meta = read_metadata(path)
    if path.is_file():
        path = path.parent
    model_file = path / MODEL_FILE
    try:
        digest = _sha256(model_file)
    except OSError as exc:
        raise ModelError(f"{model_file} cannot be read ({exc.strerror})") from exc
    if digest != meta["sha256"]:
        raise ModelError(
            f"{model_file} does not match the checksum in its metadata: it was altered or "
            "truncated after saving. Use the original file or retrain."
        )
    check_compatible(meta, path)
    try:
        untrusted = sio.get_untrusted_types(file=model_file)
    except Exception as exc:  # skops raises several types for damaged zips
        raise ModelError(f"{model_file} is damaged or not a model file (as a skops file: {exc})") from exc
    unexpected = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if unexpected:
        raise ModelError(
            f"{model_file} contains types that objections does not trust: "
            f"{', '.join(unexpected)}; it was not made by objections and is refused, since loading it could run code"
        )
    try:
        clf = sio.load(model_file, trusted=TRUSTED_TYPES)
    except Exception as exc:
        raise ModelError(f"{model_file} could not be loaded: {exc}") from exc
    from .classifier import ObjectionClassifier

    if not isinstance(clf, ObjectionClassifier):
        raise ModelError(f"{model_file} does not hold an ObjectionClassifier")
    clf.metadata_ = meta
    return clf


def model_card(meta):
    """Render the metadata as a Markdown model card."""
    lines = ["# Model card", ""]
    lines.append(f"- Created: {meta.get('created')}")
    lines.append(f"- spaCy pipeline: `{meta.get('spacy_pipeline')}`")
    disabled = meta.get("disabled_components") or []
    if disabled:
        lines.append(f"- Disabled components: {', '.join(disabled)}")
    lines.append(
        "- Versions: "
        + ", ".join(f"{k} {v}" for k, v in meta.get("versions", {}).items() if v)
    )
    lines += ["", "## Labels and thresholds", "", "| label | threshold |", "|---|---|"]
    for label, t in meta.get("thresholds", {}).items():
        lines.append(f"| {label} | {t:.3f} |" if t != float("inf") else f"| {label} | (not trained) |")
    training = meta.get("training") or {}
    if training:
        lines += ["", "## Training data", ""]
        for key, value in training.items():
            lines.append(f"- {key}: {value}")
    metrics = meta.get("metrics") or {}
    if metrics:
        lines += ["", "## Metrics", ""]
        lines.append("```")
        lines.append(json.dumps(metrics, indent=2))
        lines.append("```")
    lines += [
        "",
        "## Use and limits",
        "",
        "Scores are calibrated probabilities that a label is present; `labels` holds every",
        "objection whose score reaches its threshold and `primary` the highest of them",
        "(`none` when no objection passes).  The model reads English sales notes; other",
        "languages and domains far from B2B sales are out of scope.",
        "",
    ]
    return "\n".join(lines)
