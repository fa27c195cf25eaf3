"""Documents per second through our heuristic filters vs DataTrove's, and how often they agree.

Both sides run the same chain on the same synthetic web-like documents (10% non-English) in the
same process, in the order of DataTrove's FineWeb recipe: language ID (both with fastText's
lid.176.ftz, DataTrove pointed at our local copy) -> Gopher repetition -> Gopher quality -> C4 (which
rewrites text) -> FineWeb -> PII redaction (DataTrove's PIIFormatter: e-mails and IPs; ours adds
phone numbers). Each side feeds its own rewritten text to its next stage. Prints docs/s for each
side, the speed ratio, and keep/reject agreement for the chain and for each stage on the same text.

It also trains the fastText quality classifier on generated clean vs junk pages (spam, lists,
tables, boilerplate) and prints its held-out accuracy and its accuracy on freshly generated pages.

    .venv/bin/python benchmarks/filters.py --docs 3000 --seed 0
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

STAGES = ("language", "gopher_repetition", "gopher_quality", "c4", "fineweb", "pii")


class _PII:
    """DataTrove's PII formatter as a keep-everything step of the chain."""

    def __init__(self) -> None:
        from datatrove.pipeline.formatters import PIIFormatter

        self._formatter = PIIFormatter()

    def filter(self, doc: object) -> bool:
        doc.text = self._formatter.format(doc.text)  # type: ignore[attr-defined]
        return True


def datatrove_chain() -> list[tuple[str, object]]:
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
        LanguageFilter,
    )
    from datatrove.utils.lid import FT176LID

    from polymix.transforms.filters.fasttext_models import lid_model_path

    FT176LID.MODEL_URL = lid_model_path()  # the same model, read locally instead of downloaded
    return [
        ("language", LanguageFilter(languages=["en"], language_threshold=0.65)),
        ("gopher_repetition", GopherRepetitionFilter()),
        ("gopher_quality", GopherQualityFilter()),
        ("c4", C4QualityFilter()),
        ("fineweb", FineWebQualityFilter()),
        ("pii", _PII()),
    ]


def run_datatrove(chain: list[tuple[str, object]], text: str) -> tuple[str | None, str]:
    """(rejecting stage or None, final text) for DataTrove's chain."""
    from datatrove.data import Document

    doc = Document(text=text, id="x")
    for name, block in chain:
        result = block.filter(doc)
        if result is not True and not (isinstance(result, tuple) and result[0]):
            return name, doc.text
    return None, doc.text


def datatrove_stage_keeps(chain: list[tuple[str, object]], text: str) -> dict[str, bool]:
    """Each DataTrove filter's decision on the original text (no chaining)."""
    from datatrove.data import Document

    out = {}
    for name, block in chain:
        result = block.filter(Document(text=text, id="x"))
        out[name] = result is True or (isinstance(result, tuple) and bool(result[0]))
    return out


def classifier_accuracy(seed: int) -> None:
    import tempfile

    from polymix.sample.web_text import make_documents
    from polymix.transforms.filters import fasttext_models, quality_classifier

    junk_kinds = ("spam", "list", "table", "boilerplate")

    def junk(n: int, offset: int) -> list[str]:
        return [t for i, k in enumerate(junk_kinds) for t in make_documents(k, n // 4, offset + i)]

    with tempfile.TemporaryDirectory() as tmp:
        model_path = f"{tmp}/quality.bin"
        result = quality_classifier.train(
            make_documents("clean", 800, seed), junk(800, seed + 1), model_path, seed=seed
        )
        model = fasttext_models.load(model_path)
        fresh = [(t, True) for t in make_documents("clean", 400, seed + 100)]
        fresh += [(t, False) for t in junk(400, seed + 200)]
        right = sum(
            (fasttext_models.label_probability(model, quality_classifier.prepare(t), "hq") >= 0.5)
            == good
            for t, good in fresh
        )
    print(
        f"quality classifier: held-out accuracy {result.heldout_accuracy:.3f} "
        f"({result.heldout_docs} docs), fresh pages {right / len(fresh):.3f} ({len(fresh)} docs)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show", type=int, default=5, help="disagreements to print")
    args = parser.parse_args(argv)

    from polymix.core.config.filters import FiltersConfig, StagesConfig
    from polymix.sample.web_text import make_corpus
    from polymix.transforms.filters import build_stages, load_models, run_stages

    docs = make_corpus(args.docs, seed=args.seed, foreign_fraction=0.1)
    texts = [d["text"] for d in docs]
    config = FiltersConfig(stages=StagesConfig(text=list(STAGES)))
    ours = build_stages(config, "text")
    load_models(ours)
    theirs = datatrove_chain()

    # Warm both (imports, spaCy's lazy tokenizer) outside the timed region.
    run_stages(ours, texts[0])
    run_datatrove(theirs, texts[0])

    # Interleave the two sides in batches so both see the same machine load (shared CI cores).
    our_results, their_results = [], []
    our_s = their_s = 0.0
    for begin in range(0, len(texts), 100):
        batch = texts[begin : begin + 100]
        start = time.perf_counter()
        our_results += [run_stages(ours, t) for t in batch]
        our_s += time.perf_counter() - start
        start = time.perf_counter()
        their_results += [run_datatrove(theirs, t) for t in batch]
        their_s += time.perf_counter() - start

    agree = sum(
        (o.stage is None) == (t[0] is None) for o, t in zip(our_results, their_results, strict=True)
    )
    kept = sum(o.stage is None for o in our_results)
    print(f"documents: {len(texts)} (seed {args.seed}), kept by us: {kept}")
    print(f"polymix filters:   {len(texts) / our_s:9.1f} docs/s")
    print(f"datatrove filters: {len(texts) / their_s:9.1f} docs/s")
    print(f"speed ratio: {their_s / our_s:.1f}x")
    print(f"chain keep/reject agreement: {agree / len(texts):.2%}")

    by_stage = collections.Counter()
    shown = 0
    for doc, text in zip(docs, texts, strict=True):
        theirs_keep = datatrove_stage_keeps(theirs, text)
        verdicts = {s.name: run_stages([s], text) for s in ours}
        for name in STAGES:
            same = (verdicts[name].stage is None) == theirs_keep[name]
            by_stage[name] += same
            if not same and shown < args.show:
                shown += 1
                v = verdicts[name]
                print(
                    f"  differs: {doc['id']} ({doc['kind']}) {name}: ours "
                    f"{'keep' if v.kept else 'reject:' + v.reason}, datatrove "
                    f"{'keep' if theirs_keep[name] else 'reject'}"
                )
    for name in STAGES:
        print(f"  {name:18s} agreement: {by_stage[name] / len(texts):.2%}")
    classifier_accuracy(args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
