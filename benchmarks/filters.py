"""Quality filters per CPU-second vs DataTrove's on real text, and how often they agree.

The corpus is `benchmarks/real_corpus.py`: 6,151 documents nobody here wrote (Debian's manuals in
7 languages, GNOME help in ~40, Python's reST docs, HTML, fortunes, GCIDE entries, licences).
Both sides run the chain of DataTrove's FineWeb recipe on the same documents: language ID (both
fastText lid.176, DataTrove pointed at our copy) -> Gopher repetition -> Gopher quality -> C4
(which rewrites text) -> FineWeb -> PII (DataTrove's PIIFormatter: e-mails and IPs; ours adds
phone numbers). Each side feeds its own rewritten text to its next stage.

CPU is `time.process_time()`; the two sides alternate which goes first, batch by batch, so both
see the same machine. Printed: documents per CPU-second for each side and their ratio, CPU per
document stage by stage on each side, keep/reject agreement of the chains and of every rule set on
the original text, language ID on a prefix or a sample of lines against whole-text decisions,
normalization before and after its fast path, and the quality classifier's accuracy.

    .venv/bin/python benchmarks/filters.py                  # whole corpus (~15 min on 2 cores)
    .venv/bin/python benchmarks/filters.py --docs 1500      # a stratified sample
    .venv/bin/python benchmarks/filters.py --words spacy    # our rules on spaCy's own tokens
    .venv/bin/python benchmarks/filters.py --only profile   # our stage profile alone (any tree)
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import re
import sys
import time
import unicodedata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

STAGES = ("language", "gopher_repetition", "gopher_quality", "c4", "fineweb", "pii")
BATCH = 100


def corpus(n_docs: int | None) -> list[dict]:
    """The real corpus, or `n_docs` of it in proportion to its kinds (chosen by hash of id)."""
    from benchmarks.real_corpus import documents

    docs = documents()
    if not n_docs or n_docs >= len(docs):
        return docs
    by_kind: dict[str, list[dict]] = collections.defaultdict(list)
    for doc in docs:
        by_kind[doc["kind"]].append(doc)
    chosen = []
    for kind_docs in by_kind.values():
        ranked = sorted(kind_docs, key=lambda d: hashlib.sha256(d["id"].encode()).hexdigest())
        chosen += ranked[: max(1, round(n_docs * len(kind_docs) / len(docs)))]
    return sorted(chosen, key=lambda d: d["id"])


class _PII:
    """DataTrove's PII formatter as a keep-everything step of the chain."""

    def __init__(self) -> None:
        from datatrove.pipeline.formatters import PIIFormatter

        self._formatter = PIIFormatter()

    def filter(self, doc: Any) -> bool:
        doc.text = self._formatter.format(doc.text)
        return True


def datatrove_chain() -> list[tuple[str, Any]]:
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


def _kept(result: object) -> bool:
    return result is True or (isinstance(result, tuple) and bool(result[0]))


def run_datatrove(chain: list[tuple[str, Any]], text: str, clock: dict[str, float]) -> str | None:
    """The rejecting stage (None when kept), timing each block into `clock`."""
    from datatrove.data import Document

    doc = Document(text=text, id="x")
    for name, block in chain:
        start = time.process_time()
        kept = _kept(block.filter(doc))
        clock[name] += time.process_time() - start
        if not kept:
            return name
    return None


def our_stages(words: str) -> list[Any]:
    from polymix.core.config.filters import FiltersConfig, StagesConfig
    from polymix.transforms.filters import build_stages, load_models

    config = FiltersConfig(stages=StagesConfig(text=list(STAGES)))
    if words != "fast":
        update = {"words": words}
        config = config.model_copy(
            update={
                name: getattr(config, name).model_copy(update=update)
                for name in ("gopher_repetition", "gopher_quality", "c4", "fineweb")
            }
        )
    stages = build_stages(config, "text")
    load_models(stages)
    return stages


def timed_chain(stages: list[Any], text: str, clock: dict[str, float]) -> str | None:
    """`run_stages`' calls one by one, timing each stage's tag + decide into `clock`."""
    from polymix.transforms.filters.text import DocView

    doc = DocView(text)
    for stage in stages:
        start = time.process_time()
        tags = stage.tag(doc)
        reasons = stage.decide(tags.attributes)
        clock[stage.name] += time.process_time() - start
        if reasons:
            return stage.name
        if tags.text is not None:
            doc = DocView(tags.text)
    return None


def _clear_memos() -> None:
    """Start our word memo cold, as a fresh worker would (a no-op on trees without one)."""
    try:
        from polymix.transforms.filters import words
    except ImportError:
        return
    words._MEMO.clear()
    words._SENSITIVE.clear()


def _print_profile(title: str, clock: dict[str, float], n_docs: int) -> None:
    total = sum(clock.values())
    print(f"{title}: {total:.1f} CPU-s, {1e3 * total / n_docs:.2f} ms per document")
    for name, seconds in clock.items():
        share = seconds / total if total else 0.0
        print(f"    {name:18s} {1e3 * seconds / n_docs:8.3f} ms/doc  {share:6.1%}")


def compare_chains(docs: list[dict], words: str) -> None:
    from polymix.transforms.filters import run_stages

    texts = [d["text"] for d in docs]
    ours, theirs = our_stages(words), datatrove_chain()
    run_stages(ours, texts[0])  # imports, numba's compiled kernels, spaCy's lazy load
    run_datatrove(theirs, texts[0], collections.defaultdict(float))
    _clear_memos()
    our_verdicts: list[str | None] = []
    their_verdicts: list[str | None] = []
    our_s = their_s = 0.0
    their_clock: dict[str, float] = collections.defaultdict(float)
    for number, begin in enumerate(range(0, len(texts), BATCH)):
        batch = texts[begin : begin + BATCH]
        for side in ("ours", "theirs") if number % 2 == 0 else ("theirs", "ours"):
            start = time.process_time()
            if side == "ours":
                our_verdicts += [run_stages(ours, t).stage for t in batch]
                our_s += time.process_time() - start
            else:
                their_verdicts += [run_datatrove(theirs, t, their_clock) for t in batch]
                their_s += time.process_time() - start
    n = len(texts)
    agree = sum(
        (a is None) == (b is None) for a, b in zip(our_verdicts, their_verdicts, strict=True)
    )
    megabytes = sum(map(len, texts)) / 1e6
    print(f"documents: {n} ({megabytes:.1f} M characters), words: {words}")
    print(f"  kept by us {our_verdicts.count(None)}, by DataTrove {their_verdicts.count(None)}")
    print(f"polymix filters:   {n / our_s:8.1f} docs per CPU-second ({our_s:.1f} CPU-s)")
    print(f"datatrove filters: {n / their_s:8.1f} docs per CPU-second ({their_s:.1f} CPU-s)")
    print(f"ratio: {their_s / our_s:.1f}x per CPU-second")
    print(f"chain keep/reject agreement: {agree / n:.2%}")
    _print_profile("datatrove stage profile", their_clock, n)


def profile(docs: list[dict], words: str) -> None:
    """Where our CPU goes, stage by stage, from a cold word memo."""
    stages = our_stages(words)
    timed_chain(stages, docs[0]["text"], collections.defaultdict(float))
    _clear_memos()
    clock: dict[str, float] = {stage.name: 0.0 for stage in stages}
    for doc in docs:
        timed_chain(stages, doc["text"], clock)
    _print_profile("polymix stage profile", clock, len(docs))


def rule_set_agreement(docs: list[dict], words: str, show: int) -> None:
    """Every rule set on the original text, both sides, document by document."""
    from datatrove.data import Document

    from polymix.transforms.filters import run_stages

    ours = {s.name: s for s in our_stages(words)}
    theirs = dict(datatrove_chain())
    same: collections.Counter[str] = collections.Counter()
    shown = 0
    for doc in docs:
        for name in STAGES[:-1]:
            kept = run_stages([ours[name]], doc["text"]).kept
            their_keep = _kept(theirs[name].filter(Document(text=doc["text"], id=doc["id"])))
            same[name] += kept == their_keep
            if kept != their_keep and shown < show:
                shown += 1
                print(f"  differs: {doc['id']} ({doc['kind']}) {name}: ours keeps {kept}")
    for name in STAGES[:-1]:
        print(
            f"  {name:18s} agreement: {same[name] / len(docs):.2%} ({len(docs) - same[name]} differ)"
        )


def language_sampling(docs: list[dict]) -> None:
    """Language ID on a prefix or a sample of lines vs the whole text, on multilingual text."""
    from polymix.transforms.filters import fasttext_models
    from polymix.transforms.filters.language import sample_lines

    model = fasttext_models.load(fasttext_models.lid_model_path())
    texts = [d["text"] for d in docs]

    def decisions(pick: Any) -> tuple[list[tuple[str, bool]], float]:
        start = time.process_time()
        out = []
        for text in texts:
            ((lang, score),) = fasttext_models.predict(model, pick(text), k=1)
            out.append((lang, lang == "en" and score >= 0.65))
        return out, time.process_time() - start

    whole, whole_s = decisions(lambda t: t)
    languages = len({lang for lang, _ in whole})
    print(f"language ID on {len(texts)} documents ({languages} languages detected), whole text:")
    print(f"  {whole_s:.2f} CPU-s")
    for budget in (1000, 2000, 3000, 4000, 6000, 8000):
        for name, pick in (
            ("prefix", lambda t, b=budget: t[:b]),
            ("lines", lambda t, b=budget: sample_lines(t, b) if len(t) > b else t),
        ):
            got, seconds = decisions(pick)
            same_lang = sum(a[0] == b[0] for a, b in zip(whole, got, strict=True)) / len(texts)
            same_keep = sum(a[1] == b[1] for a, b in zip(whole, got, strict=True)) / len(texts)
            print(
                f"  max_chars {budget:5d} {name:6s} {whole_s / seconds:4.1f}x faster, "
                f"same language {same_lang:.2%}, same English keep/reject {same_keep:.2%}"
            )


_LINE_ENDS = re.compile(r"\r\n?|[\u2028\u2029\x85]")
_KEEP = frozenset("\n\t")


def _per_character_strip(text: str) -> str:
    """The control-character path normalization took for any text with a newline."""
    if text.isprintable():
        return text
    return "".join(ch for ch in text if ch in _KEEP or unicodedata.category(ch) != "Cc")


def normalization(docs: list[dict]) -> None:
    from polymix.transforms import normalize

    texts = [_LINE_ENDS.sub("\n", d["text"]) for d in docs]
    start = time.process_time()
    old = [_per_character_strip(t) for t in texts]
    old_s = time.process_time() - start
    start = time.process_time()
    new = [normalize.strip_control(t) for t in texts]
    new_s = time.process_time() - start
    assert old == new, "the fast path must give the same text"
    start = time.process_time()
    for text in texts:
        normalize.normalize_text(text)
    whole_s = time.process_time() - start
    with_newline = sum("\n" in t for t in texts)
    print(
        f"normalization: control characters {old_s:.2f} -> {new_s:.3f} CPU-s "
        f"({old_s / new_s:.0f}x, identical output; {with_newline} of {len(texts)} texts have a "
        f"newline); normalize_text now {whole_s:.2f} CPU-s, was {whole_s - new_s + old_s:.2f}"
    )


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


SECTIONS = ("chains", "profile", "rules", "language", "normalize", "classifier")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=0, help="stratified sample size; 0: all")
    parser.add_argument("--words", choices=("fast", "spacy"), default="fast")
    parser.add_argument("--only", choices=SECTIONS, action="append", help="run only these")
    parser.add_argument("--show", type=int, default=5, help="rule-set disagreements to print")
    parser.add_argument("--seed", type=int, default=0, help="for the classifier's pages")
    args = parser.parse_args(argv)
    sections = args.only or list(SECTIONS)
    docs = corpus(args.docs)
    if "chains" in sections:
        compare_chains(docs, args.words)
    if "profile" in sections:
        profile(docs, args.words)
    if "rules" in sections:
        rule_set_agreement(docs, args.words, args.show)
    if "language" in sections:
        language_sampling(docs)
    if "normalize" in sections:
        normalization(docs)
    if "classifier" in sections:
        classifier_accuracy(args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
