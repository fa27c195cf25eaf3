"""The normalize stage on Beam: code keeps its indentation, prose is folded."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.testing.util import assert_that, equal_to

from polymix.core.config.text import NormalizeConfig
from polymix.pipelines.normalize import NormalizeText
from polymix.transforms.example import Example

SOURCE = "def f(x):\n    if x:\n        return x\n    return 0\n"


def test_code_examples_keep_their_indentation_and_text_examples_are_folded():
    examples = [
        Example("repo", "a.py", "code", text=SOURCE),
        Example("web", "page", "text", text=SOURCE),
    ]
    with beam.Pipeline() as pipeline:
        kept = (pipeline | beam.Create(examples) | NormalizeText(NormalizeConfig()))["kept"]
        texts = kept | beam.Map(lambda e: (e.modality, e.text))
        assert_that(
            texts,
            equal_to(
                [
                    ("code", SOURCE.rstrip()),
                    ("text", "def f(x):\nif x:\nreturn x\nreturn 0"),
                ]
            ),
        )
