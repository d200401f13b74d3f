"""Train the sensitive-note scanner's optional second stage (policies/notes/model.py) and measure it.

Usage: .venv/bin/pip install scikit-learn && .venv/bin/python bench/train_notes_model.py [--bits 16] [--c 8]

Reads the `tune` split of tests/policies/notes_corpus (never the `heldout` split), featurises each sentence
with `model.features` (the function the scanner runs), and fits a multinomial logistic regression over the ten
labels. The threshold is chosen on the tune split alone: five-fold cross-validated probabilities, the lowest
threshold on a 0.05 grid at which the model alone flags sensitive sentences with a precision of at least
0.98. Writes policies/notes/notes_model.bin (float32 weights, little-endian, label-major) and
notes_model.json (labels, biases, threshold, what it was trained on). scikit-learn is needed here only: the
scanner reads the weights with the standard library.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import sys
from array import array
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict

from gomme.policies.notes.model import HEADER, NONE, WEIGHTS, features

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "policies" / "notes_corpus"
OUT = ROOT / "policies" / "notes"
PRECISION = 0.98  # of the model alone, cross-validated on tune: where the threshold is set
GRID = [round(0.5 + 0.05 * step, 2) for step in range(10)]


def tune_split() -> list[dict[str, str]]:
    lines = [line for path in sorted(CORPUS.glob("*.jsonl")) for line in path.read_text("utf-8").splitlines()]
    return [row for row in map(json.loads, lines) if row["split"] == "tune"]


def matrix(texts: list[str], bits: int) -> sparse.csr_matrix:
    rows, cols, values = [], [], []
    for row, text in enumerate(texts):
        for slot, value in features(text, bits).items():
            rows.append(row)
            cols.append(slot)
            values.append(value)
    return sparse.csr_matrix((values, (rows, cols)), shape=(len(texts), 1 << bits), dtype=np.float64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bits", type=int, default=16)
    parser.add_argument("--c", type=float, default=8.0, help="inverse regularisation strength")
    args = parser.parse_args()
    rows = tune_split()
    x = matrix([row["text"] for row in rows], args.bits)
    y = np.array([row["label"] for row in rows])
    model = LogisticRegression(C=args.c, max_iter=3000)
    print(f"{len(rows):,} tune sentences, {1 << args.bits:,} slots; cross-validating (5 folds)…", file=sys.stderr)
    folds = cross_val_predict(model, x, y, cv=5, method="predict_proba")
    model.fit(x, y)
    labels = [str(label) for label in model.classes_]
    sensitive = y != NONE
    flagged_by: dict[float, tuple[float, float]] = {}
    for threshold in GRID:
        flagged = (1.0 - folds[:, labels.index(NONE)]) > threshold
        hits = int((flagged & sensitive).sum())
        precision = hits / max(int(flagged.sum()), 1)
        flagged_by[threshold] = (precision, hits / int(sensitive.sum()))
        recall = flagged_by[threshold][1]
        print(f"threshold {threshold:.2f}: cross-validated precision {precision:.3f}, recall {recall:.3f}")
    threshold = next((t for t in GRID if flagged_by[t][0] >= PRECISION), GRID[-1])
    recall_at = flagged_by[threshold][1]
    weights = array("f", model.coef_.astype(np.float32).ravel().tolist())
    if sys.byteorder != "little":
        weights.byteswap()
    (OUT / WEIGHTS).write_bytes(weights.tobytes())
    digest = hashlib.sha256((OUT / WEIGHTS).read_bytes()).hexdigest()[:12]
    header = {
        "version": f"{dt.date.today().isoformat()}-{digest}",
        "labels": labels,
        "bits": args.bits,
        "biases": [float(b) for b in model.intercept_],
        "threshold": threshold,
        "trained_on": f"{len(rows)} sentences of the tune split (tests/policies/notes_corpus), C={args.c}",
        "cross_validated": {"precision": round(flagged_by[threshold][0], 3), "recall": round(recall_at, 3)},
    }
    (OUT / HEADER).write_text(json.dumps(header, indent=1) + "\n", "utf-8")
    print(f"wrote {WEIGHTS} ({len(weights):,} weights), {HEADER}: threshold {threshold}, version {header['version']}")


if __name__ == "__main__":
    main()
