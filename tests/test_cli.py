"""The command line, through click's runner and as a real process."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import click
import pandas as pd
import pytest
from click.testing import CliRunner

import objections
from objections.cli import cli
from objections.labels import LABELS
from objections.scoring import RESULT_COLUMNS

FORMATS = ["csv", "tsv", "jsonl", "parquet", "xlsx"]

ROWS = {
    "deal_id": ["00123", "00124", "0042", "D-7", "00126", "00127"],
    "region": ["EMEA", "NA", "NA", "APAC", "EMEA", "NA"],
    "text": [
        "Budget frozen until Q3 after the acquisition; revisit in October.",
        "No SAML SSO, so their security team vetoed it.",
        "Hi Dana,\n\nWe went with another vendor - they have offline mode.\n\nBest,\nSam",
        "Moved the demo to Thursday 2pm, adding their IT lead.",
        'Champion liked it but the VP never saw the business case, "not a priority".',
        "",
    ],
    "amount": ["38400", "61200", "0", "12000", "9000", "100"],
}


@pytest.fixture(autouse=True)
def isolated_config(tmp_path, monkeypatch):
    """No user configuration or environment picks a model behind a test's back."""
    monkeypatch.setenv("OBJECTIONS_CONFIG", str(tmp_path / "objections-config.json"))
    monkeypatch.delenv("OBJECTIONS_MODEL", raising=False)


@pytest.fixture
def runner():
    return CliRunner()


def write_table(frame, path):
    fmt = path.suffix.lstrip(".")
    if fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "tsv":
        frame.to_csv(path, sep="\t", index=False)
    elif fmt == "jsonl":
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    elif fmt == "parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_excel(path, index=False)


def read_back(path):
    fmt = path.suffix.lstrip(".")
    if fmt == "csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    if fmt == "tsv":
        return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    if fmt == "jsonl":
        return pd.read_json(path, lines=True, dtype=False)
    if fmt == "parquet":
        return pd.read_parquet(path)
    return pd.read_excel(path, dtype=str, keep_default_na=False)


def check_scored(out, frame, model):
    assert list(out.columns) == list(frame.columns) + RESULT_COLUMNS
    assert len(out) == len(frame)
    assert [str(v) for v in out["deal_id"]] == ROWS["deal_id"]
    assert out["text"].fillna("").tolist() == frame["text"].tolist()
    expected = model.tag(frame["text"].tolist())
    assert out["primary"].tolist() == [r["primary"] for r in expected]
    assert out["labels"].tolist() == [";".join(r["labels"]) for r in expected]
    for label in LABELS:
        got = pd.to_numeric(out[f"score_{label}"]).tolist()
        assert got == pytest.approx([r["scores"][label] for r in expected], abs=1e-4)
    assert out["note"].fillna("").tolist() == ["", "", "", "", "", "empty"]


@pytest.fixture(scope="module")
def small_loaded(small_model_dir):
    return objections.load(small_model_dir)


@pytest.mark.parametrize(
    "in_fmt, out_fmt", [(f, f) for f in FORMATS] + [("csv", "parquet"), ("xlsx", "jsonl")]
)
def test_score_each_format(runner, small_model_dir, small_loaded, tmp_path, in_fmt, out_fmt):
    frame = pd.DataFrame(ROWS)
    source = tmp_path / f"notes.{in_fmt}"
    target = tmp_path / f"scored.{out_fmt}"
    write_table(frame, source)
    result = runner.invoke(
        cli,
        [
            "score",
            str(source),
            "-o",
            str(target),
            "--model",
            str(small_model_dir),
            "-j",
            "1",
            "--id-col",
            "deal_id",
        ],
    )
    assert result.exit_code == 0, result.output
    check_scored(read_back(target), frame, small_loaded)
    assert "Scored 6 rows" in result.stderr
    # Only the output appears: no temporary files are left behind.
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "objections-config.json") == sorted(
        {source.name, target.name}
    )


def test_score_stdin_to_stdout(runner, small_model_dir, small_loaded):
    frame = pd.DataFrame(ROWS)
    result = runner.invoke(
        cli, ["score", "-", "--model", str(small_model_dir), "-j", "1", "-q"], input=frame.to_csv(index=False)
    )
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    out = pd.read_csv(io.StringIO(result.stdout), dtype=str, keep_default_na=False)
    check_scored(out, frame, small_loaded)


def test_score_other_text_column(runner, small_model_dir, tmp_path):
    frame = pd.DataFrame({"notes": ["Budget frozen after the merger.", "no SSO"], "id": ["007", "008"]})
    write_table(frame, tmp_path / "in.csv")
    result = runner.invoke(
        cli,
        [
            "score",
            str(tmp_path / "in.csv"),
            "-o",
            str(tmp_path / "out.csv"),
            "--text-col",
            "notes",
            "--model",
            str(small_model_dir),
            "-j",
            "1",
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    out = read_back(tmp_path / "out.csv")
    assert list(out.columns[:2]) == ["notes", "id"]
    assert out["id"].tolist() == ["007", "008"]


def test_score_missing_text_column_suggests_one(runner, small_model_dir, tmp_path):
    pd.DataFrame({"id": ["1"], "Notes": ["no SSO"]}).to_csv(tmp_path / "in.csv", index=False)
    result = runner.invoke(
        cli,
        ["score", str(tmp_path / "in.csv"), "-o", str(tmp_path / "out.csv"), "--model", str(small_model_dir)],
    )
    assert result.exit_code == 1
    assert "Notes" in result.stderr
    assert "--text-col" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "out.csv").exists()


def test_score_missing_input(runner, small_model_dir, tmp_path):
    result = runner.invoke(cli, ["score", str(tmp_path / "nope.csv"), "--model", str(small_model_dir)])
    assert result.exit_code == 1
    assert "nope.csv" in result.stderr
    assert "Traceback" not in result.output


def test_score_with_a_broken_model_dir(runner, tmp_path):
    pd.DataFrame({"text": ["no SSO"]}).to_csv(tmp_path / "in.csv", index=False)
    (tmp_path / "model").mkdir()
    result = runner.invoke(cli, ["score", str(tmp_path / "in.csv"), "--model", str(tmp_path / "model")])
    assert result.exit_code == 1
    assert "not a model directory" in result.stderr


# -- train, evaluate, explain, info -------------------------------------------------


@pytest.fixture(scope="module")
def labelled_csv(small_training_set, tmp_path_factory):
    """48 labelled notes (12 per label), with a register column and split column."""
    texts, labels = small_training_set
    picked, seen = [], {}
    for text, label in zip(texts, labels):
        primary = label.split(";")[0]
        if seen.get(primary, 0) < 12:
            seen[primary] = seen.get(primary, 0) + 1
            picked.append((text, label))
    frame = pd.DataFrame(
        {
            "id": [f"{i:05d}" for i in range(len(picked))],
            "text": [t for t, _ in picked],
            "labels": [lab for _, lab in picked],
            "register": ["crm", "email"] * (len(picked) // 2),
        }
    )
    path = tmp_path_factory.mktemp("labelled") / "labelled.csv"
    frame.to_csv(path, index=False)
    return path


def test_train_writes_a_model_dir(runner, labelled_csv, tmp_path):
    out = tmp_path / "mine"
    result = runner.invoke(cli, ["train", str(labelled_csv), "-o", str(out), "--cv", "2"])
    assert result.exit_code == 0, result.output
    assert {"model.skops", "metadata.json", "MODEL_CARD.md"} <= {p.name for p in out.iterdir()}
    meta = json.loads((out / "metadata.json").read_text(encoding="utf-8"))
    assert meta["training"]["rows"] == 48
    assert meta["training"]["sources"] == [str(labelled_csv)]
    assert meta["metrics"]["cross_validated"]["folds"] == 2
    assert "Model written to" in result.stderr
    assert "macro-F1" in result.stderr
    card = (out / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "Training data" in card
    # The new model scores.
    scored = runner.invoke(cli, ["score", "-", "--model", str(out), "-j", "1", "-q"], input="text\nno SSO\n")
    assert scored.exit_code == 0, scored.output
    assert pd.read_csv(io.StringIO(scored.stdout))["primary"].iloc[0] in LABELS


def test_train_unknown_label_names_file_and_row(runner, tmp_path):
    path = tmp_path / "bad.csv"
    pd.DataFrame({"text": ["a", "b", "c"], "labels": ["pitch", "market", "budget"]}).to_csv(path, index=False)
    result = runner.invoke(cli, ["train", str(path), "-o", str(tmp_path / "m")])
    assert result.exit_code == 1
    assert "bad.csv" in result.stderr
    assert "row 3" in result.stderr
    assert "'budget'" in result.stderr
    assert not (tmp_path / "m").exists()


def test_evaluate_json(runner, small_model_dir, labelled_csv):
    result = runner.invoke(
        cli, ["evaluate", str(labelled_csv), "--model", str(small_model_dir), "--json", "--by", "register"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) >= {
        "n",
        "macro_f1",
        "accuracy",
        "per_label",
        "confusion",
        "label_set_macro_f1",
        "calibration",
        "by",
    }
    assert report["n"] == 48
    assert set(report["per_label"]) == set(LABELS)
    assert report["confusion"]["labels"] == list(LABELS)
    assert sum(map(sum, report["confusion"]["matrix"])) == 48
    assert set(report["by"]) == {"crm", "email"}
    assert 0.0 <= report["macro_f1"] <= 1.0


def test_evaluate_text_report(runner, small_model_dir, labelled_csv):
    result = runner.invoke(cli, ["evaluate", str(labelled_csv), "--model", str(small_model_dir)])
    assert result.exit_code == 0, result.output
    assert "macro-F1" in result.stdout
    for label in LABELS:
        assert label in result.stdout


def test_explain_argument_and_stdin(runner, small_model_dir):
    text = "No SAML SSO, so IT vetoed it."
    by_arg = runner.invoke(cli, ["explain", text, "--model", str(small_model_dir), "--json"])
    assert by_arg.exit_code == 0, by_arg.output
    by_stdin = runner.invoke(cli, ["explain", "-", "--model", str(small_model_dir), "--json"], input=text)
    assert by_stdin.exit_code == 0, by_stdin.output
    a, b = json.loads(by_arg.stdout), json.loads(by_stdin.stdout)
    assert a == b
    assert a["primary"] in LABELS
    assert set(a["terms"]) == set(LABELS)


def test_explain_plain_text(runner, small_model_dir, small_loaded):
    text = "Budget frozen until Q3 after the acquisition."
    result = runner.invoke(cli, ["explain", text, "--model", str(small_model_dir)])
    assert result.exit_code == 0, result.output
    primary = small_loaded.predict([text])[0]
    assert f"primary: {primary}" in result.stdout
    assert "threshold" in result.stdout


def test_info(runner, small_model_dir):
    result = runner.invoke(cli, ["info", "--model", str(small_model_dir)])
    assert result.exit_code == 0, result.output
    assert str(small_model_dir) in result.stdout
    assert "# Model card" in result.stdout
    as_json = runner.invoke(cli, ["info", "--model", str(small_model_dir), "--json"])
    meta = json.loads(as_json.stdout)
    assert meta["labels"] == list(LABELS)
    assert meta == json.loads((small_model_dir / "metadata.json").read_text(encoding="utf-8"))


def test_info_of_the_shipped_model(runner):
    result = runner.invoke(cli, ["info", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["labels"] == list(LABELS)


# -- help and version -----------------------------------------------------------------


def test_every_command_has_help_with_an_example(runner):
    names = sorted(cli.commands)
    assert {"score", "train", "evaluate", "explain", "info"} <= set(names)
    for name in names:
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)
        assert "Example" in result.stdout, name
        assert f"objections {name}" in result.stdout, name
        short = runner.invoke(cli, [name, "-h"])
        assert short.stdout == result.stdout


def test_group_help_lists_the_commands(runner):
    result = runner.invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "Example" in result.stdout
    for name in cli.commands:
        assert name in result.stdout


def test_version(runner):
    result = runner.invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert objections.__version__ in result.stdout
    assert "objections" in result.stdout


def test_every_command_is_a_click_command():
    for command in cli.commands.values():
        assert isinstance(command, click.Command)
        assert command.help


# -- a real process ---------------------------------------------------------------------


def run(args, tmp_path, **kwargs):
    env = {**os.environ, "OBJECTIONS_CONFIG": str(tmp_path / "objections-config.json")}
    env.pop("OBJECTIONS_MODEL", None)
    return subprocess.run(
        [sys.executable, "-m", "objections", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        **kwargs,
    )


def test_subprocess_version(tmp_path):
    proc = run(["--version"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert objections.__version__ in proc.stdout


def test_subprocess_score_pipe_in_and_out_across_workers(small_model_dir, small_loaded, tmp_path):
    # Twelve rows in chunks of three over two worker processes: results come
    # back in input order.
    frame = pd.DataFrame({k: v * 2 for k, v in ROWS.items()})
    frame["deal_id"] = [f"{i:05d}" for i in range(len(frame))]
    proc = run(
        ["score", "-", "--model", str(small_model_dir), "-j", "2", "--chunk-size", "3", "-q"],
        tmp_path,
        input=frame.to_csv(index=False),
    )
    assert proc.returncode == 0, proc.stderr
    out = pd.read_csv(io.StringIO(proc.stdout), dtype=str, keep_default_na=False)
    assert list(out.columns) == list(frame.columns) + RESULT_COLUMNS
    assert out["deal_id"].tolist() == frame["deal_id"].tolist()
    assert out["primary"].tolist() == small_loaded.predict(frame["text"].tolist()).tolist()
