"""Language identification with fastText's lid.176 model (Joulin et al. 2016; CC-BY-SA-3.0).

The detected language and its probability are tags, so a mixture can later be re-cut by language
without re-scoring. The decision keeps a document when the top language is in the configured
`keep` list (all languages when it is empty) with at least `min_score`, as CCNet and FineWeb do.

fastText's cost grows with the text, so `max_chars` can bound what it reads: the leading
characters (`sample: prefix`) or whole lines spread evenly through the document (`sample: lines`),
which also sees past an English header on a page in another language. `benchmarks/filters.py`
measures both against whole-text decisions on real multilingual text (README).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from polymix.transforms.filters import fasttext_models
from polymix.transforms.filters.base import Cut, Tags, failed_cuts
from polymix.transforms.filters.text import DocView


def sample_lines(text: str, budget: int) -> str:
    """About `budget` characters of whole non-blank lines, one from the middle of each of equal
    stretches of the document (so one line is its middle line, not its title)."""
    lines = [line for line in text.split("\n") if line.strip()]
    total = sum(len(line) + 1 for line in lines)
    if total <= budget:
        return "\n".join(lines)
    picks = max(1, round(len(lines) * budget / total))
    step = len(lines) / picks
    chosen = [lines[int((i + 0.5) * step)] for i in range(picks)]  # the middle of each stretch
    return "\n".join(chosen)[:budget]


class Language:
    name = "language"

    def __init__(self, config: Any) -> None:
        self.config = config
        self._model: Any = None
        self.cuts = (Cut("low_score", "score", "<", config.min_score),)

    def load(self) -> None:
        if self._model is None:
            self._model = fasttext_models.load(
                fasttext_models.lid_model_path(self.config.model_path)
            )

    def tag(self, doc: DocView) -> Tags:
        self.load()
        text = doc.text
        budget = self.config.max_chars
        if 0 < budget < len(text):
            text = sample_lines(text, budget) if self.config.sample == "lines" else text[:budget]
        top = fasttext_models.predict(self._model, text, k=1)
        language, score = top[0] if top else ("unknown", 0.0)
        return Tags({"lang": language, "score": score})

    def decide(self, attributes: Mapping[str, Any]) -> list[str]:
        keep = self.config.keep
        if keep and attributes["lang"] not in keep:
            return ["other_language"]
        return failed_cuts(self.cuts, attributes)

    def __getstate__(self) -> dict[str, Any]:
        # The C++ model cannot be pickled; each worker loads its own in setup.
        return {**self.__dict__, "_model": None}
