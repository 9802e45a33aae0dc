"""The user's configuration file: which model is the default.

The file is ``$OBJECTIONS_CONFIG`` if set, else
``$XDG_CONFIG_HOME/objections/config.json`` (``~/.config/...`` by default).
It is written only by ``objections promote``; nothing is ever written into
the installed package.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

__all__ = ["config_path", "read_config", "write_config", "promoted_model"]


def config_path() -> Path:
    """Where the configuration file lives."""
    explicit = os.environ.get("OBJECTIONS_CONFIG")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "objections" / "config.json"


def read_config() -> dict:
    """The configuration, or ``{}`` when there is none or it is unreadable."""
    path = config_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_config(data: dict) -> Path:
    """Replace the configuration file atomically."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".config.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)
    return path


def promoted_model():
    """The model directory made default by ``objections promote``, if any."""
    value = read_config().get("default_model")
    return Path(value) if value else None
