"""notebooks/walkthrough.ipynb runs top to bottom, and is kept without outputs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "walkthrough.ipynb"


def test_notebook_is_stored_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


def _text_outputs(nb):
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                parts.append(out["text"])
            elif "data" in out:
                parts.append(out["data"].get("text/plain", ""))
    return "\n".join(parts)


@pytest.mark.skipif(
    not (ROOT / "data" / "example_notes.csv").exists(), reason="data/example_notes.csv is missing"
)
def test_walkthrough_runs_top_to_bottom(tmp_path, monkeypatch):
    from nbclient import NotebookClient

    # A kernel of this very interpreter, whatever kernelspecs the machine has,
    # and every file the kernel or the notebook writes under tmp_path.
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3",
                "language": "python",
            }
        )
    )
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mpl"))
    monkeypatch.setenv("TMPDIR", str(work))
    monkeypatch.setenv("OBJECTIONS_ROOT", str(ROOT))
    before = sorted(p.relative_to(ROOT) for p in (ROOT / "notebooks").rglob("*"))

    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(work)}}
    ).execute()

    text = _text_outputs(nb)
    assert "error" not in {out.get("output_type") for cell in nb.cells for out in cell.get("outputs", [])}
    [out] = list(work.glob("objections-walkthrough-*"))
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["notes"]["total"] == len(pd.read_csv(ROOT / "data" / "example_notes.csv", dtype=str))
    assert (out / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    for shift in report["over_time"]["shifts"]:
        assert shift["message"] in text
    assert (out / "small_model" / "model.skops").is_file()
    assert "default model" in text and "small model" in text and "macro-F1" in text
    assert "evidence:" in text
    # Nothing was written into the repository.
    assert sorted(p.relative_to(ROOT) for p in (ROOT / "notebooks").rglob("*")) == before
