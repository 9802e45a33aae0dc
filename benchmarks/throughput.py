"""Throughput of ``objections score`` against the floor and two peers.

Builds a synthetic load file of N notes (sentences and lines of the labelled
corpus re-assembled into new notes: load only, never training or test data)
and measures, each in a fresh process, rows per second and peak RSS of:

1. the floor: ``spacy.blank("en")`` tokenizing the texts with ``nlp.pipe``;
2. scikit-learn TF-IDF + logistic regression on the raw text;
3. spaCy's own ``textcat`` (bag-of-words) scoring the texts;
4. ``objections score`` end to end (file in, file out, model loading
   included) with ``--jobs 1`` and with every core; for reference also the
   library's ``score_texts`` in one process on the texts in memory, which is
   how the floor and the peers are timed.

It also times training on 10,000 assembled examples (thresholds by
cross-validation) against scoring them, both on every core as ``objections
train`` and ``objections score`` run by default, optionally repeats the
all-cores run on a file ten times larger to compare peak RSS, and ends with
PASS/MISS for each target of the throughput issue.  A miss never fails the
script.

Usage::

    python benchmarks/throughput.py                 # N = 100,000
    python benchmarks/throughput.py --n 30000 --ten-x --json
    python benchmarks/throughput.py --n 500 --train-n 500   # a quick smoke run
    python benchmarks/throughput.py --stages --n 2000       # CPU cost of each scoring step

Rows/s is wall-clock; ``cpu s`` is user+system time of the measured
process and its workers, which shows how much a busy machine slowed a run.
Peak RSS is the largest resident set of any one process of a run
(``getrusage``; parallel workers share the model pages copy-on-write).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "data" / "corpus.jsonl"
REGISTERS = ("crm", "email", "transcript", "winloss")
MEAN_WORDS = 60
TRAIN_N = 10_000
CHUNK = 2000

TARGETS = {
    "jobs1_vs_floor": 0.5,
    "jobs2_vs_jobs1": 1.7,
    "vs_textcat": 1.0,
    "rss_10x": 1.2,
    "train_vs_score": 10.0,
}


# -- the load ------------------------------------------------------------------


def read_corpus():
    with open(CORPUS, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _units(text):
    """A note cut into lines (when it has several) or sentences, and the joiner."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) > 1:
        return lines, "\n"
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s], " "


def _pools(rows, by_label):
    pools = defaultdict(list)
    for row in rows:
        units, joiner = _units(row["text"])
        if units:
            key = (row["register"], row["labels"].split(";")[0]) if by_label else row["register"]
            pools[key].append((units, joiner))
    return pools


def assemble(pool, rng):
    """One note of about MEAN_WORDS words (gamma-distributed) from runs of units."""
    # The last unit overshoots the target by about 20 words on average.
    target = max(3, round(rng.gammavariate(2.0, (MEAN_WORDS - 20) / 2.0)))
    units, joiner = rng.choice(pool)
    parts, words = [], 0
    while words < target:
        start = rng.randrange(len(units))
        for unit in units[start : start + rng.randint(1, 3)]:
            parts.append(unit)
            words += len(unit.split())
            if words >= target:
                break
        units, _ = rng.choice(pool)
    return joiner.join(parts)


def write_load(path, n, seed=0):
    """Write N assembled notes (id, register, text) as CSV; return stats."""
    rng = random.Random(seed)
    pools = _pools(read_corpus(), by_label=False)
    words = 0
    with open(path, "w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(["id", "register", "text"])
        for i in range(n):
            register = REGISTERS[i % len(REGISTERS)]
            text = assemble(pools[register], rng)
            words += len(text.split())
            out.writerow([f"n{i:07d}", register, text])
    return {"rows": n, "mean_words": words / max(n, 1), "bytes": os.path.getsize(path)}


def training_set(n, seed=1):
    """N labelled examples assembled from notes of one register and primary label."""
    rng = random.Random(seed)
    pools = _pools([r for r in read_corpus() if r["split"] == "train"], by_label=True)
    keys = sorted(pools)
    texts, labels = [], []
    for i in range(n):
        key = keys[i % len(keys)]
        texts.append(assemble(pools[key], rng))
        labels.append(key[1])
    return texts, labels


def read_texts(path):
    with open(path, encoding="utf-8", newline="") as f:
        return [row["text"] for row in csv.DictReader(f)]


# -- measurements, each run in its own process -----------------------------------


def _cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _timed(rows, fn):
    cpu, wall = _cpu(), time.perf_counter()
    fn()
    return {"rows": rows, "seconds": time.perf_counter() - wall, "cpu": _cpu() - cpu}


def measure_floor(load, _model, _train_n):
    import spacy

    texts = read_texts(load)
    nlp = spacy.blank("en")
    for _ in nlp.pipe(texts[:200]):
        pass

    def run():
        for _ in nlp.pipe(texts, batch_size=256):
            pass

    return _timed(len(texts), run)


def _train_split():
    rows = [r for r in read_corpus() if r["split"] == "train"]
    return [r["text"] for r in rows], [r["labels"].split(";")[0] for r in rows]


def measure_sklearn(load, _model, _train_n):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    texts = read_texts(load)
    train_x, train_y = _train_split()
    model = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
        LogisticRegression(C=4.0, max_iter=2000),
    ).fit(train_x, train_y)

    def run():
        for start in range(0, len(texts), CHUNK):
            model.predict_proba(texts[start : start + CHUNK])

    return _timed(len(texts), run)


def measure_textcat(load, _model, _train_n):
    import spacy
    from spacy.training import Example

    texts = read_texts(load)
    train_x, train_y = _train_split()
    labels = sorted(set(train_y))
    nlp = spacy.blank("en")
    textcat = nlp.add_pipe(
        "textcat",
        config={
            "model": {
                "@architectures": "spacy.TextCatBOW.v3",
                "exclusive_classes": True,
                "ngram_size": 2,
                "no_output_layer": False,
            }
        },
    )
    for label in labels:
        textcat.add_label(label)
    examples = [
        Example.from_dict(nlp.make_doc(x), {"cats": {lab: float(lab == y) for lab in labels}})
        for x, y in zip(train_x, train_y)
    ]
    optimizer = nlp.initialize(lambda: examples)
    rng = random.Random(0)
    for _ in range(5):  # briefly: the point is its scoring speed
        rng.shuffle(examples)
        for start in range(0, len(examples), 64):
            nlp.update(examples[start : start + 64], sgd=optimizer)

    def run():
        for doc in nlp.pipe(texts, batch_size=256):
            max(doc.cats, key=doc.cats.get)

    return _timed(len(texts), run)


def measure_objections(load, model, _train_n):
    import objections
    from objections.scoring import score_texts

    texts = read_texts(load)
    clf = objections.load(model) if model else objections.load()
    score_texts(clf, texts[:200])  # builds the spaCy pipeline

    def run():
        for start in range(0, len(texts), CHUNK):
            score_texts(clf, texts[start : start + CHUNK])

    return _timed(len(texts), run)


def measure_training(_load, _model, train_n):
    # As a user runs them, both on every core: ``objections train`` fits
    # its models on all cores and ``objections score`` scores on all cores.
    import pandas as pd

    from objections.scoring import score_file
    from objections.training import train

    texts, labels = training_set(train_n)
    started = time.perf_counter()
    clf = train(texts, labels, n_jobs=-1)
    trained = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "train.csv"
        pd.DataFrame({"text": texts}).to_csv(path, index=False)
        started = time.perf_counter()
        score_file(clf, path, Path(folder) / "scored.csv", jobs=-1)
        scored = time.perf_counter() - started
    return {"rows": len(texts), "train_seconds": trained, "score_seconds": scored}


def stage_costs(load, reps=5):
    """CPU microseconds per note of each step of scoring, best of ``reps`` passes.

    The steps run one at a time over all the notes (tokenizer, then each
    pipeline component, then feature extraction, then vectorizing, the
    linear models and evidence selection), in this process.  The floor is
    measured alongside, so its share is comparable.
    """
    import spacy

    import objections
    from objections.features import doc_to_features
    from objections.preprocess import get_nlp
    from objections.scoring import score_texts

    texts = read_texts(load)
    clf = objections.load()
    score_texts(clf, texts)  # warm every cache once
    nlp = get_nlp()
    blank = spacy.blank("en")
    for _ in blank.pipe(texts):
        pass
    best = {}

    def timed(name, fn):
        started = time.process_time()
        out = fn()
        best[name] = min(best.get(name, float("inf")), time.process_time() - started)
        return out

    for _ in range(reps):
        timed("floor: spacy.blank('en').pipe", lambda: list(blank.pipe(texts)))
        docs = timed("tokenizer", lambda: [nlp.make_doc(text) for text in texts])
        for name, component in nlp.pipeline:
            timed(name, lambda component=component, docs=docs: [component(doc) for doc in docs])
        notes = timed(
            "feature extraction",
            lambda docs=docs: [doc_to_features(doc, text=text) for doc, text in zip(docs, texts)],
        )
        timed("vectorizing, models, evidence", lambda notes=notes: clf.tag_notes(notes))
        timed("score_texts (all of it)", lambda: score_texts(clf, texts))
    return {name: seconds * 1e6 / len(texts) for name, seconds in best.items()}


MEASURES = {
    "floor": measure_floor,
    "sklearn": measure_sklearn,
    "textcat": measure_textcat,
    "objections": measure_objections,
    "training": measure_training,
}


def run_measured(cmd, env=None):
    """Run ``cmd``; return wall seconds, CPU seconds and peak RSS of it and its workers."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        # wait4 gives this child's own rusage (with its reaped workers),
        # untouched by earlier children.
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{stderr[-2000:]}")
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_mb": usage.ru_maxrss / 1024,
        "stdout": stdout,
    }


def run_peer(name, load, model=None, train_n=TRAIN_N):
    cmd = [sys.executable, __file__, "--measure", name, str(load), str(model or ""), str(train_n)]
    result = run_measured(cmd)
    report = json.loads(result["stdout"].strip().splitlines()[-1])
    report["rss_mb"] = result["rss_mb"]
    return report


def run_score(load, jobs, model, workdir):
    out = Path(workdir) / f"scored_{Path(load).stem}_{jobs}.csv"
    cmd = [
        sys.executable,
        "-m",
        "objections",
        "score",
        str(load),
        "-o",
        str(out),
        "--jobs",
        str(jobs),
        "--quiet",
    ]
    if model:
        cmd += ["--model", str(model)]
    result = run_measured(cmd)
    rows = sum(1 for _ in csv.reader(open(out, encoding="utf-8", newline=""))) - 1
    out.unlink()
    return {"rows": rows, "seconds": result["wall"], "cpu": result["cpu"], "rss_mb": result["rss_mb"]}


# -- the report ------------------------------------------------------------------


def verdict(value, target, higher_is_better=True):
    if value is None:
        return "n/a"
    met = value >= target if higher_is_better else value <= target
    return "PASS" if met else "MISS"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="notes in the load file (default 100,000)")
    parser.add_argument("--ten-x", action="store_true", help="also score a file of 10 x N notes for peak RSS")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--model", default=None, help="model directory for objections score (default: shipped)"
    )
    parser.add_argument(
        "--workdir", default=None, help="where the load files go (default: a temporary folder)"
    )
    parser.add_argument(
        "--train-n",
        type=int,
        default=TRAIN_N,
        help=f"examples for the training-time check (default {TRAIN_N:,})",
    )
    parser.add_argument(
        "--stages",
        action="store_true",
        help="only print the CPU cost per note of each scoring step (on N notes; try --n 2000)",
    )
    parser.add_argument("--measure", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.stages:
        with tempfile.TemporaryDirectory(prefix="objections-stages-") as folder:
            load = Path(folder) / "load.csv"
            write_load(load, args.n)
            costs = stage_costs(load)
        if args.json:
            print(json.dumps(costs, indent=2))
        else:
            print(f"CPU microseconds per note, best of 5 passes over {args.n:,} load notes:")
            for name, micros in costs.items():
                print(f"  {name:38s} {micros:8.0f}")
        return 0

    if args.measure:
        what, load, model, train_n = args.measure
        print(json.dumps(MEASURES[what](load, model or None, int(train_n))))
        return 0

    import sklearn
    import spacy

    from objections.scoring import available_cores

    cores = available_cores()
    tmp = tempfile.TemporaryDirectory(prefix="objections-throughput-")
    workdir = Path(args.workdir or tmp.name)
    workdir.mkdir(parents=True, exist_ok=True)
    log = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr, flush=True))

    results = {
        "machine": {
            "cores": os.cpu_count(),
            "available_cores": cores,
            "python": platform.python_version(),
            "spacy": spacy.__version__,
            "sklearn": sklearn.__version__,
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        },
    }
    load = workdir / f"load_{args.n}.csv"
    log(f"writing {args.n:,} notes to {load} ...")
    results["load"] = write_load(load, args.n)

    runs = {}
    for name in ("floor", "sklearn", "textcat"):
        log(f"measuring {name} ...")
        runs[name] = run_peer(name, load)
    log("measuring objections in process (scoring only) ...")
    runs["objections_inprocess"] = run_peer("objections", load, args.model)
    log("measuring objections score --jobs 1 ...")
    runs["objections_jobs1"] = run_score(load, 1, args.model, workdir)
    log(f"measuring objections score --jobs {cores} ...")
    runs[f"objections_jobs{cores}"] = run_score(load, cores, args.model, workdir)
    for run in runs.values():
        run["rows_per_s"] = run["rows"] / run["seconds"]
        run["rows_per_cpu_s"] = run["rows"] / run["cpu"] if run.get("cpu") else None
    floor = runs["floor"]["rows_per_s"]
    for run in runs.values():
        run["vs_floor"] = run["rows_per_s"] / floor
    results["runs"] = runs

    if args.ten_x:
        big = workdir / f"load_{10 * args.n}.csv"
        log(f"writing {10 * args.n:,} notes to {big} ...")
        results["load_10x"] = write_load(big, 10 * args.n, seed=10)
        log(f"measuring objections score --jobs {cores} on 10 x N ...")
        ten = run_score(big, cores, args.model, workdir)
        ten["rows_per_s"] = ten["rows"] / ten["seconds"]
        results["ten_x"] = ten
        big.unlink()

    log(f"measuring training on {args.train_n:,} examples ...")
    results["training"] = run_peer("training", load, args.model, args.train_n)
    if hasattr(os, "getloadavg"):
        results["machine"]["load_average_end"] = list(os.getloadavg())
    load.unlink()

    one = runs["objections_jobs1"]["rows_per_s"]
    many = runs[f"objections_jobs{cores}"]["rows_per_s"]
    rss_n = runs[f"objections_jobs{cores}"]["rss_mb"]
    training = results["training"]
    checks = {
        "jobs1_vs_floor": one / floor,
        "jobs2_vs_jobs1": many / one if cores >= 2 else None,
        "vs_textcat": max(one, many) / runs["textcat"]["rows_per_s"],
        "rss_10x": results["ten_x"]["rss_mb"] / rss_n if args.ten_x else None,
        "train_vs_score": training["train_seconds"] / training["score_seconds"],
    }
    results["targets"] = {
        key: {
            "value": value,
            "target": TARGETS[key],
            "verdict": verdict(value, TARGETS[key], key not in ("rss_10x", "train_vs_score")),
        }
        for key, value in checks.items()
    }
    tmp.cleanup()

    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print_report(results, cores)
    return 0


def print_report(results, cores):
    m, load = results["machine"], results["load"]
    load_avg = ", ".join(f"{x:.1f}" for x in m["load_average"]) if m["load_average"] else "n/a"
    if m.get("load_average_end"):
        load_avg += f" at the start, {m['load_average_end'][0]:.1f} at the end"
    print(
        f"machine: {m['cores']} cores ({m['available_cores']} available), load average {load_avg}; "
        f"Python {m['python']}, spaCy {m['spacy']}, scikit-learn {m['sklearn']}"
    )
    print(
        f"load: {load['rows']:,} notes, mean {load['mean_words']:.1f} words, "
        f"{load['bytes'] / 2**20:.1f} MB CSV, registers crm/email/transcript/winloss in turn"
    )
    print()
    names = {
        "floor": 'floor: spacy.blank("en").pipe',
        "sklearn": "peer: sklearn TF-IDF + LogReg",
        "textcat": "peer: spaCy textcat (BOW)",
        "objections_inprocess": "objections, in process (score_texts)",
        "objections_jobs1": "objections score --jobs 1",
        f"objections_jobs{cores}": f"objections score --jobs {cores}",
    }
    print(f"{'':38}{'rows/s':>9}{'x floor':>9}{'seconds':>9}{'cpu s':>8}{'rows/cpu-s':>11}{'peak RSS':>10}")
    for key, label in names.items():
        r = results["runs"][key]
        print(
            f"{label:38}{r['rows_per_s']:>9,.0f}{r['vs_floor']:>9.3f}{r['seconds']:>9.1f}{r['cpu']:>8.1f}"
            f"{r['rows_per_cpu_s']:>11,.0f}{r['rss_mb']:>8.0f}MB"
        )
    print(
        "(floor, peers and 'in process': scoring only, texts in memory, one process; objections score: "
        "file in, file out, start-up and model loading included)"
    )
    one, many = results["runs"]["objections_jobs1"], results["runs"][f"objections_jobs{cores}"]
    print(
        f"objections score --jobs {cores} used {many['cpu'] / one['cpu'] - 1:+.0%} CPU time relative to --jobs 1 "
        "(worker start-up, the parent's reading and writing); turning that into wall-clock speed needs idle cores"
    )
    print()
    n_rss = results["runs"][f"objections_jobs{cores}"]["rss_mb"]
    print(f"peak RSS, objections score --jobs {cores}: {n_rss:.0f} MB at N={load['rows']:,}", end="")
    if "ten_x" in results:
        ten = results["ten_x"]
        print(f", {ten['rss_mb']:.0f} MB at 10xN={ten['rows']:,} ({ten['rows_per_s']:,.0f} rows/s)")
    else:
        print(" (10xN not run: pass --ten-x)")
    t = results["training"]
    print(
        f"training on {t['rows']:,} examples (CV thresholds, all cores): {t['train_seconds']:.1f}s; "
        f"scoring them (score_file, all cores): {t['score_seconds']:.1f}s"
    )
    print()
    print("targets:")
    descriptions = {
        "jobs1_vs_floor": ("--jobs 1 rows/s / floor rows/s", ">="),
        "jobs2_vs_jobs1": (f"--jobs {cores} rows/s / --jobs 1 rows/s", ">="),
        "vs_textcat": ("best objections rows/s / textcat rows/s", ">="),
        "rss_10x": ("peak RSS at 10xN / at N", "<="),
        "train_vs_score": ("training time / scoring time", "<="),
    }
    for key, (text, op) in descriptions.items():
        t = results["targets"][key]
        value = "not run" if t["value"] is None else f"{t['value']:.3f}"
        print(f"  {t['verdict']:4}  {text}: {value} (target {op} {t['target']})")


if __name__ == "__main__":
    sys.exit(main())
