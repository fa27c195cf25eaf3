"""The tokenize stage per CPU-second vs SentencePiece alone, on real documents.

    .venv/bin/python benchmarks/tokenize.py [--docs N] [--rounds 5] [--vocab 8000]

The corpus is `benchmarks/real_corpus.py` (6,151 documents nobody here wrote, 43 M
characters). The tokenizer is trained on every sixth document with the code
`polymix tokenizer train` runs (`train_sentencepiece`, the config's defaults but the
vocabulary) and cached beside the corpus. Sides, all on the same texts:

- `raw`: `SentencePieceProcessor.encode(texts)`, lists of Python ints: the baseline;
- `raw numpy`: the same call returning int32 buffers (`out_type="numpy"`, BOS/EOS
  added, one thread), the cheapest the library gives ids;
- `stage function`: the stage's own DoFn (`_TokenizeBatchFn`: batch encode, records
  built and isolated one document at a time) called directly, 64 documents a call;
- `DirectRunner`: `TokenizeText` on the DirectRunner with one worker, as the marginal
  cost over a pipeline that creates and counts the same examples.

CPU is `time.process_time()` (all threads of this process), summed over `--rounds`
rounds that rotate which side goes first, so a shared machine slows every side alike.
The stage function is also split into its parts: encoding alone, building records
from the ids (`record_codec` + chunking), and what isolation and output objects add.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

if __name__ == "__main__":
    # Run as a script, this file's folder comes first on the path, where this file would
    # stand in for the standard library's `tokenize`: the repository root takes its place.
    sys.path[0] = str(Path(__file__).resolve().parents[1])

MAX_SEQ_LEN = 2048
BATCH = 64


def model_proto(texts: list[str], vocab: int) -> bytes:
    from benchmarks.real_corpus import cache_root
    from polymix.transforms.sentencepiece_tokenizer import train_sentencepiece

    path = cache_root() / f"tokenize-benchmark-{vocab}.model"
    if not path.exists():
        print(f"training a {vocab}-piece unigram model on {len(texts[::6])} documents ...")
        train_sentencepiece(texts[::6], path, vocab_size=vocab)
    return path.read_bytes()


def _cpu(work: Callable[[], object]) -> float:
    start = time.process_time()
    work()
    return time.process_time() - start


def _batches(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _run_stage(examples, proto: bytes, with_stage: bool) -> None:
    import apache_beam as beam

    from polymix.pipelines.tokenize import TokenizeText

    with beam.Pipeline(runner="DirectRunner") as pipeline:
        created = pipeline | beam.Create(examples, reshuffle=False)
        if with_stage:
            out = created | TokenizeText(proto, MAX_SEQ_LEN)
            created = tuple(out.values()) | beam.Flatten()
        _ = created | beam.combiners.Count.Globally()


def sides(docs: list[dict], proto: bytes) -> dict[str, Callable[[], object]]:
    import sentencepiece as spm

    from polymix.pipelines.tokenize import _TokenizeBatchFn
    from polymix.transforms.example import Example

    texts = [d["text"] for d in docs]
    examples = [Example("real", d["id"], "text", text=d["text"]) for d in docs]
    batches = _batches(examples, BATCH)
    processor = spm.SentencePieceProcessor(model_proto=proto)
    fn = _TokenizeBatchFn(proto, MAX_SEQ_LEN)
    fn.setup()
    return {
        "raw": lambda: processor.encode(texts),
        "raw numpy": lambda: processor.encode(
            texts, out_type="numpy", add_bos=True, add_eos=True, num_threads=1
        ),
        "stage function": lambda: [list(fn.process(batch)) for batch in batches],
        "DirectRunner": lambda: _run_stage(examples, proto, True),
        "DirectRunner without the stage": lambda: _run_stage(examples, proto, False),
    }


def parts(docs: list[dict], proto: bytes) -> dict[str, float]:
    """CPU of the stage function's parts, once each: encode, records from ids, the rest."""
    from polymix.transforms.sentencepiece_tokenizer import TextTokenizer

    tokenizer = TextTokenizer(proto, MAX_SEQ_LEN)
    text_batches = _batches([d["text"] for d in docs], BATCH)
    ids: list = []
    encode = _cpu(lambda: [ids.extend(tokenizer.token_ids_batch(b)) for b in text_batches])
    build = _cpu(
        lambda: [
            list(tokenizer.records("real", "text", d["id"], d["text"], ids=i))
            for d, i in zip(docs, ids, strict=True)
        ]
    )
    return {"encode": encode, "records": build, "tokens": float(sum(map(len, ids)))}


def measure(docs: list[dict], proto: bytes, rounds: int) -> dict[str, float]:
    work = sides(docs, proto)
    names = list(work)
    totals = dict.fromkeys(names, 0.0)
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            totals[name] += _cpu(work[name])
    return totals


def report(docs: list[dict], totals: dict[str, float], split: dict[str, float]) -> None:
    raw, raw_numpy = totals["raw"], totals["raw numpy"]
    stage = totals["DirectRunner"] - totals["DirectRunner without the stage"]
    rows = {
        "raw": raw,
        "raw numpy": raw_numpy,
        "stage function": totals["stage function"],
        "DirectRunner (marginal)": stage,
        "DirectRunner (whole run)": totals["DirectRunner"],
    }
    rounds = totals["_rounds"]
    print(f"{len(docs)} documents, {sum(len(d['text']) for d in docs):,} characters")
    print(f"{split['tokens']:,.0f} tokens, {rounds:.0f} rounds, CPU-seconds summed")
    for name, seconds in rows.items():
        rate = len(docs) * rounds / seconds
        print(
            f"  {name:26s} {seconds:7.2f} s  {rate:7.0f} docs/CPU-s"
            f"  {raw / seconds:5.2f}x raw  {raw_numpy / seconds:5.2f}x raw numpy"
        )
    rest = totals["stage function"] / rounds - split["encode"] - split["records"]
    print(
        f"  stage function, one pass: encode {split['encode']:.2f} s, records from ids "
        f"{split['records']:.2f} s, isolation and outputs {rest:.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=0, help="first N documents (0: all)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--vocab", type=int, default=8000)
    args = parser.parse_args()

    from benchmarks.real_corpus import documents

    docs = documents()
    proto = model_proto([d["text"] for d in docs], args.vocab)
    if args.docs:
        docs = docs[: args.docs]
    totals = measure(docs, proto, args.rounds)
    totals["_rounds"] = args.rounds
    report(docs, totals, parts(docs, proto))


if __name__ == "__main__":
    main()
