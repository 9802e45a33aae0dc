"""The loop that makes the model a team's own: suggest, check-labels, train --add, compare, promote.

The story at the end plays the whole loop on data/team_story/: the notes of
a sales team selling field-service software to HVAC and plumbing
contractors, written in its own shorthand (loss codes such as NVP, FG, EXT;
its products KD and KG; its competitors Wrenchly, FieldPilot, Jobloop).
"""

from __future__ import annotations

import json
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import objections
from objections import ObjectionClassifier
from objections.cli import cli
from objections.errors import InputError
from objections.lexicon import COMPETITOR, PRODUCT, Lexicon, load_lexicon
from objections.retrain import (
    BASE_DATA_FILE,
    COMPARISONS_FILE,
    load_base,
    paired_bootstrap,
    read_comparisons,
    uncertainty,
)

ROOT = Path(__file__).resolve().parents[1]
STORY = ROOT / "data" / "team_story"


def run(*args):
    """Run the CLI in-process; return click's Result."""
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def own_config(tmp_path, monkeypatch):
    """A private config file and no $OBJECTIONS_MODEL, so promote touches nothing real."""
    path = tmp_path / "config" / "config.json"
    monkeypatch.setenv("OBJECTIONS_CONFIG", str(path))
    monkeypatch.delenv("OBJECTIONS_MODEL", raising=False)
    return path


@pytest.fixture(scope="session")
def corpus_test(corpus, tmp_path_factory):
    """200 notes of the corpus test split as a CSV (id, text, labels)."""
    rows = [r for r in corpus if r["split"] == "test"][:200]
    path = tmp_path_factory.mktemp("data") / "held_out.csv"
    pd.DataFrame(rows)[["id", "text", "labels"]].to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def weak_model_dir(corpus, tmp_path_factory):
    """A model trained on 40 notes: clearly worse than ``small_model``."""
    picked, per_label = [], {}
    for row in corpus:
        primary = row["labels"].split(";")[0]
        if row["split"] == "train" and per_label.get(primary, 0) < 10:
            per_label[primary] = per_label.get(primary, 0) + 1
            picked.append(row)
    clf = ObjectionClassifier(cv=3, char_ngrams=(3, 4)).fit(
        [r["text"] for r in picked], [r["labels"] for r in picked]
    )
    return clf.save(tmp_path_factory.mktemp("models") / "weak")


def copy_model(src, dest):
    dest.mkdir(parents=True)
    for item in Path(src).iterdir():
        if item.is_file():
            (dest / item.name).write_bytes(item.read_bytes())
    return dest


# -- lexicon ------------------------------------------------------------------------


def test_lexicon_rewrites_competitors_products_and_shorthand():
    lex = load_lexicon(STORY / "lexicon.yml")
    text, edits = lex.rewrite("went w/ Acmecorp bc no SSO")
    assert text == f"went with {COMPETITOR} because no SSO"
    assert len(edits) == 3
    # Case-insensitive, multi-word names, and glued shorthand.
    assert (
        lex.rewrite("lost to tradedesk  pro. KG w/o offline")[0]
        == f"lost to {COMPETITOR}. {PRODUCT} without offline"
    )
    assert lex.rewrite("went w/Wrenchly")[0] == f"went with {COMPETITOR}"
    # Words that merely contain a term are left alone.
    assert lex.rewrite("KGB and CLIP and w/e")[0] == "KGB and CLIP and w/e"


def test_lexicon_terms_reach_the_features_and_evidence_quotes_the_note():
    lex = load_lexicon(STORY / "lexicon.yml")
    text = "Went w/ Acmecorp bc no SSO.\nKG w/o offline mode was the killer."
    note = ObjectionClassifier(lexicon=lex.to_dict()).process([text])[0]
    terms = note.terms()
    assert COMPETITOR in terms and PRODUCT in terms and "because" in terms
    assert "without" in terms and "acmecorp" not in terms
    # Sentence offsets point into the note as written, not into its rewrite.
    assert note.text == text
    quoted = [text[start:end].rstrip(".") for start, end, _ in note.sentences]
    assert quoted == ["Went w/ Acmecorp bc no SSO", "KG w/o offline mode was the killer"]


def test_notes_without_lexicon_terms_are_processed_as_without_a_lexicon():
    lex = load_lexicon(STORY / "lexicon.yml")
    text = "Budget isn't the issue. They don't see the value of $45k in Q3."
    plain = ObjectionClassifier().process([text])[0]
    with_lex = ObjectionClassifier(lexicon=lex.to_dict()).process([text])[0]
    assert with_lex.sentences == plain.sentences
    assert with_lex.clean == plain.clean


def test_lexicon_file_errors_name_the_file_and_the_problem(tmp_path):
    bad = tmp_path / "lexicon.yml"
    bad.write_text("competitors: [Acme]\nrivals: [Zed]\n")
    with pytest.raises(InputError, match=r"lexicon.yml has unknown section\(s\) 'rivals'"):
        load_lexicon(bad)
    bad.write_text("competitors: [Acme]\nproducts: [acme]\n")
    with pytest.raises(InputError, match="'acme' is listed twice"):
        load_lexicon(bad)
    bad.write_text("abbreviations: [bc, because]\n")
    with pytest.raises(InputError, match="abbreviations must map"):
        load_lexicon(bad)
    with pytest.raises(InputError, match="No lexicon file"):
        load_lexicon(tmp_path / "missing.yml")


def test_lexicon_is_saved_in_the_model_and_applied_when_it_scores(small_training_set, tmp_path):
    texts, labels = small_training_set
    lex = Lexicon.from_dict({"competitors": ["Acmecorp"], "abbreviations": {"w/": "with", "bc": "because"}})
    clf = ObjectionClassifier(cv=3, char_ngrams=(3, 4), lexicon=lex.to_dict()).fit(texts, labels)
    note = "Went w/ Acmecorp bc their rep understood us better.\nAcmecorp also had SSO w/ Okta, we did not."
    before = clf.predict_proba([note])
    loaded = objections.load(clf.save(tmp_path / "m"))
    assert loaded.lexicon == lex.to_dict()
    pd.testing.assert_frame_equal(loaded.predict_proba([note]), before)
    # The evidence is quoted from the note as written, whichever sentence it is.
    result = loaded.tag([note])[0]
    assert result["primary"] != "none"
    assert result["evidence"].rstrip(".") in (
        "Went w/ Acmecorp bc their rep understood us better",
        "Acmecorp also had SSO w/ Okta, we did not",
    )
    meta = json.loads((tmp_path / "m" / "metadata.json").read_text())
    assert meta["params"]["lexicon"]  # recorded in the card too


# -- the base data ------------------------------------------------------------------------


def test_default_base_is_the_data_the_shipped_model_was_trained_on(corpus):
    texts, labels, info = load_base("default")
    assert len(texts) == sum(r["split"] == "train" for r in corpus) == info["rows"]
    meta = json.loads((ROOT / "models" / "default" / "metadata.json").read_text())
    # If this fails, the default model was retrained on other data: refresh
    # the copy with objections.retrain.export_base_data.
    assert info["sha256"] == meta["training"]["sha256"]
    assert (ROOT / "models" / "default" / BASE_DATA_FILE).stat().st_size < 2 * 2**20


def test_base_file_keeps_only_its_train_split():
    texts, labels, info = load_base(ROOT / "data" / "corpus.jsonl", split_col="split")
    assert info["rows"] == len(load_base("default")[0])
    assert load_base("none") == ([], [], None)


# -- train --base/--add ------------------------------------------------------------------------


def test_train_on_team_rows_alone_records_the_data(tmp_path):
    from objections.retrain import train_with_base

    # Word features only (char_ngrams=None): the library passes classifier settings through.
    result = train_with_base(
        "none", [STORY / "team_train.csv"], tmp_path / "team-only", cv=3, char_ngrams=None
    )
    assert result["add_weight"] == 1 and result["n"] == 200
    meta = json.loads((tmp_path / "team-only" / "metadata.json").read_text())
    training = meta["training"]
    assert training["base"] == "none"
    assert training["added"]["rows"] == training["rows"] == 200
    from objections.io import read_labelled
    from objections.training import data_hash

    texts, labels, _ = read_labelled([STORY / "team_train.csv"])
    assert training["added"]["sha256"] == data_hash(texts, labels)
    assert meta["metrics"]["cross_validated"]["n"] == 200
    assert "added" in (tmp_path / "team-only" / "MODEL_CARD.md").read_text()
    team = objections.load(tmp_path / "team-only")
    assert team.predict(["EXT: bolt-on to a PE platform, corp picks the stack"]).tolist() == ["market"]


def test_train_with_a_base_file_chooses_the_weight_by_cross_validation(small_training_set, tmp_path):
    texts, labels = small_training_set
    base = tmp_path / "base.csv"
    frame = pd.DataFrame({"text": texts, "labels": labels})
    frame.groupby(frame["labels"].str.split(";").str[0]).head(30).to_csv(base, index=False)
    team = pd.read_csv(STORY / "team_train.csv")
    added = tmp_path / "ours.csv"
    team.groupby(team["labels"].str.split(";").str[0]).head(15).to_csv(added, index=False)
    result = run("train", "--base", base, "--add", added, "--no-cv-report", "-o", tmp_path / "m")
    assert result.exit_code == 0, result.output
    assert "Weight of the added rows:" in result.stderr
    training = json.loads((tmp_path / "m" / "metadata.json").read_text())["training"]
    grid = training["add_weight_cv"]["grid_macro_f1"]
    assert set(grid) == {"1", "2", "4", "8"}
    assert training["add_weight"] in (1, 2, 4, 8)
    assert max(grid.values()) - grid[f"{training['add_weight']:g}"] <= 0.01
    assert training["base"]["rows"] == 120 and training["added"]["rows"] == 60
    assert training["rows"] == 180


def test_train_refuses_contradictory_options(tmp_path):
    assert run("train", "-o", tmp_path / "m").exit_code == 2
    both = run("train", STORY / "team_train.csv", "--add", STORY / "team_train.csv", "-o", tmp_path / "m")
    assert both.exit_code == 2 and "not both" in both.output
    weight = run("train", "--base", "none", "--add-weight", "2", "-o", tmp_path / "m")
    assert weight.exit_code == 2 and "--add-weight" in weight.output
    bad = run(
        "train", "--add", STORY / "team_train.csv", "--lexicon", tmp_path / "nope.yml", "-o", tmp_path / "m"
    )
    assert bad.exit_code == 1 and "No lexicon file" in bad.output


# -- suggest ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def scored_notes(small_model, corpus, tmp_path_factory):
    """300 corpus notes scored by the small model, as `objections score` writes them."""
    from objections.scoring import score_frame

    frame = pd.DataFrame([r for r in corpus if r["split"] == "test"][:300])[["id", "text", "register"]]
    path = tmp_path_factory.mktemp("scored") / "scored.csv"
    score_frame(small_model, frame).to_csv(path, index=False)
    return path


def test_uncertainty_ranks_close_calls_first():
    scores = [[0.9, 0.05, 0.05, 0.0], [0.45, 0.44, 0.1, 0.0], [0.25, 0.25, 0.25, 0.25]]
    assert uncertainty(scores).argsort().tolist() == [0, 1, 2]
    assert uncertainty(scores, "entropy").argsort().tolist() == [0, 1, 2]


def test_suggest_picks_uncertain_varied_notes_with_an_empty_label_column(scored_notes, tmp_path):
    out = tmp_path / "to_label.csv"
    result = run("suggest", scored_notes, "-n", "12", "-o", out)
    assert result.exit_code == 0, result.output
    picked = pd.read_csv(out, keep_default_na=False)
    scored = pd.read_csv(scored_notes)
    assert len(picked) == 12
    assert list(picked.columns) == ["id", "text", "register", "predicted", "uncertainty", "cluster", "labels"]
    assert (picked["labels"] == "").all()
    assert picked["uncertainty"].is_monotonic_decreasing
    # Drawn from the least certain notes (the pool is 5 * n), one per cluster.
    all_unsure = uncertainty(scored[[f"score_{x}" for x in objections.LABELS]].to_numpy())
    assert picked["uncertainty"].min() >= sorted(all_unsure, reverse=True)[12 * 5 - 1] - 1e-4
    assert picked["cluster"].nunique() == 12
    assert picked["id"].is_unique
    # More varied than simply the 12 least certain notes.
    top = scored.iloc[(-all_unsure).argsort()[:12]]
    assert picked["register"].nunique() >= min(top["register"].nunique(), 3)


def test_suggest_scores_raw_notes_with_a_model_and_skips_labelled_rows(small_model_dir, corpus, tmp_path):
    rows = [r for r in corpus if r["split"] == "test"][:40]
    raw = pd.DataFrame(
        {
            "id": [r["id"] for r in rows],
            "text": [r["text"] for r in rows],
            "labels": [r["labels"] if i < 30 else "" for i, r in enumerate(rows)],
        }
    )
    raw.to_csv(tmp_path / "raw.csv", index=False)
    result = run("suggest", tmp_path / "raw.csv", "-n", "5", "--model", small_model_dir)
    assert result.exit_code == 0, result.output
    picked = pd.read_csv(StringIO(result.stdout), keep_default_na=False)
    assert len(picked) == 5
    assert set(picked["id"]) <= set(raw["id"][30:])  # the 30 labelled rows are not suggested again


def test_suggest_without_scores_or_text_column_explains(scored_notes, tmp_path):
    pd.DataFrame({"note": ["a"]}).to_csv(tmp_path / "x.csv", index=False)
    result = run("suggest", tmp_path / "x.csv", "--model", "nowhere")
    assert result.exit_code == 1 and "no column 'text'" in result.output
    assert run("suggest", scored_notes, "-n", "0").exit_code == 2


# -- check-labels ----------------------------------------------------------------------------------


def test_check_labels_finds_flipped_labels(corpus, tmp_path):
    rows, per_label = [], {}
    for row in corpus:
        primary = row["labels"].split(";")[0]
        if row["split"] == "train" and per_label.get(primary, 0) < 40:
            per_label[primary] = per_label.get(primary, 0) + 1
            rows.append(dict(row))
    frame = pd.DataFrame(rows)[["id", "text", "labels"]]
    swap = {"pitch": "market", "market": "none", "none": "product_fit", "product_fit": "pitch"}
    # Every ninth single-label note gets a wrong label.
    flipped = []
    for i, row in frame.iterrows():
        if ";" not in row["labels"] and len(flipped) < 6 and i % 9 == 0:
            flipped.append((i, row["labels"]))
            frame.loc[i, "labels"] = swap[row["labels"]]
    frame.to_csv(tmp_path / "ours.csv", index=False)
    review = tmp_path / "review.csv"
    result = run("check-labels", tmp_path / "ours.csv", "--id-col", "id", "-o", review, "-q")
    assert result.exit_code == 0, result.output
    flagged = pd.read_csv(review)
    assert list(flagged.columns[:4]) == ["row", "id", "text", "labels"]
    assert {"given", "suggested", "confidence"} <= set(flagged.columns)
    found = {int(r.row) - 1: r.suggested for r in flagged.itertuples()}
    caught = [i for i, original in flipped if found.get(i) == original]
    assert len(caught) >= 4, (flipped, found)
    assert len(flagged) <= 25  # a short list to review, not half the file
    assert flagged["confidence"].between(0.5, 1).all()
    assert (flagged["confidence"] > flagged["given_score"]).all()

    # Without -o: a readable list on stdout.
    listed = run("check-labels", tmp_path / "ours.csv", "--id-col", "id", "-q")
    first = flipped[0]
    if first[0] in found:
        assert f"row {first[0] + 1} (id {frame.loc[first[0], 'id']}): given {swap[first[1]]}" in listed.stdout


def test_check_labels_reports_bad_labels_by_row(tmp_path):
    pd.DataFrame({"text": ["a", "b"], "labels": ["pitch", "budget"]}).to_csv(tmp_path / "x.csv", index=False)
    result = run("check-labels", tmp_path / "x.csv")
    assert result.exit_code == 1 and "row 2" in result.output and "'budget'" in result.output


# -- compare ------------------------------------------------------------------------------------------


def test_paired_bootstrap_is_reproducible_and_paired():
    gold = ["pitch", "market", "none", "product_fit"] * 25
    same = paired_bootstrap(gold, gold, gold)
    assert (same["difference"], same["low"], same["high"]) == (0.0, 0.0, 0.0)
    worse = ["none"] * 50 + gold[50:]
    a = paired_bootstrap(gold, worse, gold, seed=3)
    assert a == paired_bootstrap(gold, worse, gold, seed=3)
    assert 0 < a["low"] <= a["difference"] <= a["high"]
    b = paired_bootstrap(gold, gold, worse)
    assert b["high"] < 0


def test_compare_exit_status_says_whether_new_is_better(
    weak_model_dir, small_model_dir, corpus_test, tmp_path
):
    new = copy_model(small_model_dir, tmp_path / "new")
    result = run("compare", weak_model_dir, new, "--data", corpus_test, "--id-col", "id")
    assert result.exit_code == 0, result.output
    assert "NEW is significantly better" in result.stdout
    assert "F1 product_fit" in result.stdout and "Primary label changed on" in result.stdout
    recorded = read_comparisons(new)
    assert recorded[-1]["verdict"] == "better"
    assert recorded[-1]["new_sha256"] == json.loads((new / "metadata.json").read_text())["sha256"]

    as_json = json.loads(
        run("compare", weak_model_dir, new, "--data", corpus_test, "--json", "--id-col", "id").stdout
    )
    assert as_json["new"]["macro_f1"] > as_json["old"]["macro_f1"]
    assert as_json["interval"]["low"] > 0 and as_json["interval"]["resamples"] == 1000
    changed = as_json["changed"][0]
    assert {"row", "id", "gold", "old", "new", "text"} <= set(changed)
    assert changed["old"] != changed["new"]
    assert len(read_comparisons(new)) == 1  # the same comparison again replaces, not appends

    backwards = run("compare", new, weak_model_dir, "--data", corpus_test, "--no-record")
    assert backwards.exit_code == 1 and "significantly worse" in backwards.stdout
    assert not (weak_model_dir / COMPARISONS_FILE).exists()
    itself = run("compare", new, new, "--data", corpus_test, "--json", "--no-record")
    assert itself.exit_code == 1
    assert json.loads(itself.stdout)["changed"] == []


def test_compare_exit_status_in_a_real_process(weak_model_dir, small_model_dir, corpus_test):
    cmd = [
        sys.executable,
        "-m",
        "objections",
        "compare",
        str(weak_model_dir),
        str(small_model_dir),
        "--data",
        str(corpus_test),
        "--no-record",
        "--resamples",
        "200",
    ]
    assert subprocess.run(cmd, capture_output=True, text=True).returncode == 0
    missing = subprocess.run(cmd[:4] + ["/nonexistent/model"] + cmd[5:], capture_output=True, text=True)
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_compare_errors_exit_2(small_model_dir, corpus_test, tmp_path):
    assert run("compare", small_model_dir, small_model_dir).exit_code == 2  # no --data
    no_col = run("compare", small_model_dir, small_model_dir, "--data", corpus_test, "--label-col", "gold")
    assert no_col.exit_code == 2 and "no column 'gold'" in no_col.output
    assert "Exit status" in run("compare", "--help").stdout


# -- promote -------------------------------------------------------------------------------------------


def test_promote_needs_a_passing_comparison(
    weak_model_dir, small_model_dir, corpus_test, own_config, tmp_path
):
    from objections.persist import default_model_path

    new = copy_model(small_model_dir, tmp_path / "new")
    refused = run("promote", new)
    assert refused.exit_code == 1 and "objections compare" in refused.output
    assert not own_config.exists()

    assert run("compare", weak_model_dir, new, "--data", corpus_test).exit_code == 0
    done = run("promote", new)
    assert done.exit_code == 0, done.output
    assert default_model_path() == new.resolve()
    assert json.loads(own_config.read_text())["default_model"] == str(new.resolve())
    info = run("info")
    assert f"Model: {new.resolve()}" in info.stdout

    reset = run("promote", "--reset")
    assert reset.exit_code == 0 and "no longer the default" in reset.stdout
    assert default_model_path() != new.resolve()


def test_promote_refuses_a_significant_loss_unless_forced(
    weak_model_dir, small_model_dir, corpus_test, own_config, tmp_path
):
    weak = copy_model(weak_model_dir, tmp_path / "weak")
    assert run("compare", small_model_dir, weak, "--data", corpus_test).exit_code == 1
    refused = run("promote", weak)
    assert refused.exit_code == 1 and "significantly worse" in refused.output
    forced = run("promote", weak, "--force")
    assert forced.exit_code == 0 and "forced" in forced.stdout
    assert json.loads(own_config.read_text())["promoted"]["forced"] is True


def test_promote_with_data_compares_with_the_current_default_first(
    weak_model_dir, small_model_dir, corpus_test, own_config, tmp_path
):
    # The current default is the small model, promoted by force; the weak model does not beat it.
    assert run("promote", small_model_dir, "--force").exit_code == 0
    weak = copy_model(weak_model_dir, tmp_path / "weak")
    result = run("promote", weak, "--data", corpus_test)
    assert result.exit_code == 1
    assert "Compared with the current default on 200 notes" in result.stderr
    assert "significantly worse" in result.output
    recorded = read_comparisons(weak)[0]
    assert recorded["verdict"] == "worse"
    assert recorded["old_model"]["path"] == str(small_model_dir.resolve())
    assert json.loads(own_config.read_text())["default_model"] == str(small_model_dir.resolve())


def test_a_verdict_belongs_to_the_model_file_it_was_made_for(
    weak_model_dir, small_model_dir, corpus_test, own_config, tmp_path
):
    new = copy_model(small_model_dir, tmp_path / "new")
    assert run("compare", weak_model_dir, new, "--data", corpus_test).exit_code == 0
    # Retrained in place: the verdict of the old file does not carry over.
    copy_model(weak_model_dir, tmp_path / "other")
    for name in ("model.skops", "metadata.json"):
        (new / name).write_bytes((tmp_path / "other" / name).read_bytes())
    assert run("promote", new).exit_code == 1


def test_promote_to_copies_the_model_first(
    weak_model_dir, small_model_dir, corpus_test, own_config, tmp_path, monkeypatch
):
    new = copy_model(small_model_dir, tmp_path / "new")
    assert run("compare", weak_model_dir, new, "--data", corpus_test).exit_code == 0
    target = tmp_path / "deployed" / "objections-model"
    monkeypatch.setenv("OBJECTIONS_MODEL", str(weak_model_dir))
    done = run("promote", new, "--to", target)
    assert done.exit_code == 0, done.output
    assert "$OBJECTIONS_MODEL is set" in done.stderr
    assert (target / "model.skops").read_bytes() == (new / "model.skops").read_bytes()
    assert (target / COMPARISONS_FILE).exists()
    assert json.loads(own_config.read_text())["default_model"] == str(target.resolve())
    objections.load(target)
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("mine")
    clash = run("promote", new, "--to", occupied)
    assert clash.exit_code == 1 and "not a model directory" in clash.output


# -- the story ----------------------------------------------------------------------------------------------


#: The weight cross-validation picks for the story's rows (from 1, 2, 4, 8:
#: 0.898, 0.903, 0.899, 0.909, the smallest within 0.01 of the best); given
#: here so the story trains once, not thirteen times.
STORY_WEIGHT = 2


@pytest.fixture(scope="session")
def team_model(tmp_path_factory):
    """The default model retrained with the team's 200 labelled notes and its lexicon."""
    path = tmp_path_factory.mktemp("story") / "kestrel"
    result = run(
        "train",
        "--base",
        "default",
        "--add",
        STORY / "team_train.csv",
        "--add-weight",
        STORY_WEIGHT,
        "--lexicon",
        STORY / "lexicon.yml",
        "--no-cv-report",
        "-o",
        path,
        "-q",
    )
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture(scope="session")
def story(team_model):
    """``compare default TEAM`` on the team's held-out notes and on the shipped test split."""
    reports = {}
    for name, data in (
        ("team", ["--data", STORY / "team_heldout.csv", "--id-col", "id"]),
        ("corpus", ["--data", ROOT / "data" / "corpus.jsonl", "--split-col", "split", "--split", "test"]),
    ):
        result = run("compare", "default", team_model, *data, "--json")
        reports[name] = {**json.loads(result.stdout), "exit_code": result.exit_code}
        r = reports[name]
        print(
            f"{name}: macro-F1 {r['old']['macro_f1']:.3f} -> {r['new']['macro_f1']:.3f}, 95% CI of the "
            f"change {r['interval']['low']:+.3f} to {r['interval']['high']:+.3f} ({r['n']} notes)"
        )
    return reports


def test_story_team_model_is_significantly_better_on_the_teams_notes(story):
    report = story["team"]
    assert report["exit_code"] == 0
    assert report["verdict"] == "better" and report["interval"]["low"] > 0
    assert report["n"] == 80
    # The notes written in the team's codes are the ones the default misread.
    fixed = {c["id"] for c in report["changed"] if c["new"] == c["gold"]}
    texts = pd.read_csv(STORY / "team_heldout.csv").set_index("id")["text"]
    assert sum(texts[i].startswith(("FG", "EXT", "NVP", "COMP-")) for i in fixed) >= 8


def test_story_team_model_is_no_worse_on_the_shipped_test_split(story):
    report = story["corpus"]
    assert report["n"] == 607
    assert report["verdict"] in ("better", "no_difference")
    assert report["interval"]["high"] >= 0


def test_story_card_lexicon_and_promotion(team_model, story, own_config):
    meta = json.loads((team_model / "metadata.json").read_text())
    training = meta["training"]
    assert training["base"]["rows"] == 1793 and training["added"]["rows"] == 200
    assert training["base"]["sha256"] != training["added"]["sha256"]
    assert training["add_weight"] == STORY_WEIGHT
    assert training["lexicon"]["entries"] == load_lexicon(STORY / "lexicon.yml").to_dict()
    team = objections.load(team_model)
    result = team.tag(["Lost to Jobloop bc their AE did a ride-along w/ the techs. we did 1 zoom"])[0]
    assert result["primary"] == "pitch"
    assert result["evidence"].startswith("Lost to Jobloop bc their AE")
    # Both comparisons were recorded: one better, none worse, so it can be promoted.
    verdicts = {c["verdict"] for c in read_comparisons(team_model)}
    assert "better" in verdicts and "worse" not in verdicts
    assert run("promote", team_model).exit_code == 0
    assert objections.load().metadata_["sha256"] == meta["sha256"]
