"""A proxy's mixture as the trainer gets it (every digit) and as a person reads it."""

from __future__ import annotations

from polymix.ablation.runner import mixture_text, shown_mixture
from polymix.trainer.config import parse_mixture

WEIGHTS = {"web": 0.44639570050603056, "books": 0.19440709395345657, "audio": 0.0}


def test_the_trainer_gets_the_sampled_weights_exactly():
    parsed = parse_mixture(mixture_text(WEIGHTS))
    assert parsed == {"web": WEIGHTS["web"], "books": WEIGHTS["books"]}


def test_the_progress_line_shows_four_decimals_and_leaves_out_empty_sources():
    assert shown_mixture(WEIGHTS) == "books 0.1944, web 0.4464"
