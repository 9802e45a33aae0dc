"""How much each spaCy component adds: switch it off, retrain, measure.

For the full pipeline and for each of our components disabled in turn
(``ObjectionClassifier(disable=(name,))``, which leaves a neutral stand-in in
its place), the corpus is processed once, then the model is trained on the
training split and scored on the test split, and trained on three registers
and scored on the fourth (leave-one-register-out).  Primary-label macro-F1.

Usage::

    python benchmarks/ablation.py                      # all components
    python benchmarks/ablation.py objections_negation  # some of them

Takes about 2 minutes per configuration on two cores.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from objections import ObjectionClassifier
from objections.evaluation import metrics
from objections.labels import parse_labels
from objections.preprocess import COMPONENTS

CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus.jsonl"
REGISTERS = ("crm", "email", "transcript", "winloss")
ABLATABLE = ("objections_noise", "objections_speakers", "objections_negation", "objections_normalize")


def evaluate(disable, rows):
    texts = [r["text"] for r in rows]
    labels = [parse_labels(r["labels"]) for r in rows]
    split = np.array([r["split"] for r in rows])
    register = np.array([r["register"] for r in rows])
    notes = ObjectionClassifier(disable=disable).process(texts)

    def run(train, test):
        clf = ObjectionClassifier(disable=disable).fit_features(
            [notes[i] for i in train], [";".join(labels[i]) for i in train]
        )
        results = clf.tag_notes([notes[i] for i in test])
        return metrics([labels[i] for i in test], results)["macro_f1"]

    test = run(np.flatnonzero(split == "train"), np.flatnonzero(split == "test"))
    loro = {g: run(np.flatnonzero(register != g), np.flatnonzero(register == g)) for g in REGISTERS}
    return {
        "test": test,
        "loro": loro,
        "loro_mean": float(np.mean(list(loro.values()))),
        "loro_min": min(loro.values()),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "components",
        nargs="*",
        metavar="COMPONENT",
        help=f"Components to switch off one at a time (default: all four); any of {', '.join(COMPONENTS)}.",
    )
    parser.add_argument("--json", type=Path, help="Also write the numbers to this file.")
    args = parser.parse_args(argv)
    unknown = [c for c in args.components if c not in COMPONENTS]
    if unknown:
        parser.error(f"unknown component {unknown[0]!r}; choose from {', '.join(COMPONENTS)}")
    rows = [json.loads(line) for line in CORPUS.open(encoding="utf-8") if line.strip()]
    configs = [("full pipeline", ())] + [(f"without {c}", (c,)) for c in (args.components or ABLATABLE)]
    results = {}
    header = (
        f"{'configuration':<34} {'test':>6} "
        + " ".join(f"{g:>10}" for g in REGISTERS)
        + f" {'mean':>6} {'min':>6}"
    )
    print("Primary-label macro-F1; LORO = train on three registers, test on the fourth")
    print(header)
    print("-" * len(header))
    for name, disable in configs:
        started = time.perf_counter()
        r = evaluate(disable, rows)
        results[name] = r
        print(
            f"{name:<34} {r['test']:>6.3f} "
            + " ".join(f"{r['loro'][g]:>10.3f}" for g in REGISTERS)
            + f" {r['loro_mean']:>6.3f} {r['loro_min']:>6.3f}   ({time.perf_counter() - started:.0f}s)",
            flush=True,
        )
    full = results["full pipeline"]
    print("\nWhat each component adds (full minus without it), in points of macro-F1:")
    for name, r in results.items():
        if name == "full pipeline":
            continue
        print(
            f"  {name[len('without ') :]:<24} test {100 * (full['test'] - r['test']):+5.1f}   "
            f"LORO mean {100 * (full['loro_mean'] - r['loro_mean']):+5.1f}   "
            f"LORO min {100 * (full['loro_min'] - r['loro_min']):+5.1f}"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
