"""A fastText quality classifier: CCNet/DCLM-style model-based filtering, and how to train one.

A linear bag-of-n-grams model trained on "documents like the ones we want" (positive) against
random web text (negative) is the cheapest model-based filter that still beats hand rules (DCLM,
Li et al. 2024). The stage tags each document with P(positive) and keeps it above `min_score`.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from polymix.transforms.filters import fasttext_models
from polymix.transforms.filters.base import Cut, Tags, failed_cuts
from polymix.transforms.filters.text import DocView

POSITIVE = "hq"
NEGATIVE = "lq"
_PUNCT = re.compile(r"([^\w\s])")
NEWLINE_TOKEN = " __nl__ "


def prepare(text: str) -> str:
    """The text as the classifier sees it, in training and scoring alike.

    One lower-cased line with punctuation split off and newlines kept as a token: fastText splits
    on spaces only, and page layout ("#", "...", one item per line) is much of what marks junk.
    """
    text = _PUNCT.sub(r" \1 ", text.replace("\n", NEWLINE_TOKEN))
    return fasttext_models.one_line(text).lower()


class QualityClassifier:
    name = "quality_classifier"

    def __init__(self, config: Any) -> None:
        self.config = config
        self._model: Any = None
        self.cuts = (Cut("low_score", "score", "<", config.min_score),)

    def load(self) -> None:
        if self._model is None:
            if not self.config.model_path:
                raise fasttext_models.ModelNotFound(
                    "filters.quality_classifier.model_path is not set; train one with "
                    "`polymix classifier train --positive ... --negative ... --output model.bin`"
                )
            self._model = fasttext_models.load(self.config.model_path)

    def tag(self, doc: DocView) -> Tags:
        self.load()
        text = prepare(doc.text[: self.config.max_chars] if self.config.max_chars else doc.text)
        score = fasttext_models.label_probability(self._model, text, self.config.label)
        return Tags({"score": score})

    def decide(self, attributes: Mapping[str, Any]) -> list[str]:
        return failed_cuts(self.cuts, attributes)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_model": None}


_FIT = (
    "import json, sys, fasttext; "
    "fasttext.train_supervised(input=sys.argv[1], **json.loads(sys.argv[3])).save_model(sys.argv[2])"
)


@dataclass(frozen=True)
class TrainResult:
    """What training produced, and how well it separates held-out documents."""

    model_path: str
    train_docs: int
    heldout_docs: int
    heldout_accuracy: float


def train(
    positive: Iterable[str],
    negative: Iterable[str],
    output: str,
    *,
    heldout_fraction: float = 0.1,
    seed: int = 0,
    epoch: int = 20,
    lr: float = 0.5,
    word_ngrams: int = 2,
    dim: int = 16,
    min_count: int = 1,
    bucket: int = 1 << 18,
) -> TrainResult:
    """Train a binary fastText classifier and measure its accuracy on a held-out split.

    One thread and a fixed seed make the model file reproducible for the same inputs. The
    defaults suit corpora of thousands of documents (more epochs and a higher rate than fastText's
    own, a 2^18-bucket n-gram table so the model stays ~16 MB); raise them for millions.
    """
    if not fasttext_models.can_train():
        raise RuntimeError(
            "the installed `fasttext` module cannot train (it is fasttext-predict); "
            "install the full bindings: pip install --force-reinstall fasttext-numpy2-wheel==0.9.2"
        )
    examples = [(POSITIVE, prepare(t)) for t in positive] + [
        (NEGATIVE, prepare(t)) for t in negative
    ]
    examples = [(label, text) for label, text in examples if text]
    labels = {label for label, _ in examples}
    if labels != {POSITIVE, NEGATIVE}:
        raise ValueError("need at least one non-empty positive and one non-empty negative document")
    random.Random(seed).shuffle(examples)
    n_heldout = int(len(examples) * heldout_fraction) if len(examples) >= 10 else 0
    heldout, training = examples[:n_heldout], examples[n_heldout:]
    params = {
        "epoch": epoch,
        "lr": lr,
        "wordNgrams": word_ngrams,
        "dim": dim,
        "minCount": min_count,
        "bucket": bucket,
        "thread": 1,
        "seed": seed,
        "verbose": 0,
    }
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        train_file = os.path.join(tmp, "train.txt")
        with open(train_file, "w", encoding="utf-8") as f:
            f.writelines(f"__label__{label} {text}\n" for label, text in training)
        # fastText leaves part of the embedding table to whatever memory it is given, so a second
        # training in one process can differ from the first; a fresh process makes it repeatable.
        command = [sys.executable, "-c", _FIT, train_file, output, json.dumps(params)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"fastText training failed: {done.stderr.strip()[-2000:]}")
    model = fasttext_models.load(output)
    accuracy = _accuracy(model, heldout) if heldout else float("nan")
    return TrainResult(output, len(training), len(heldout), accuracy)


def _accuracy(model: Any, examples: Sequence[tuple[str, str]]) -> float:
    right = sum(
        1 for label, text in examples if fasttext_models.predict(model, text, k=1)[0][0] == label
    )
    return right / len(examples)
