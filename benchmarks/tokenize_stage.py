"""The tokenize stage per CPU-second vs SentencePiece alone, on real documents.

    .venv/bin/python benchmarks/tokenize_stage.py [--docs N] [--rounds 5] [--vocab 8000]

The corpus is `benchmarks/real_corpus.py` (6,151 documents nobody here wrote, 43 M
characters). The tokenizer is trained on every sixth document with the code
`polymix tokenizer train` runs (`train_sentencepiece`, the config's defaults but the
vocabulary) and cached beside the corpus. Sides, all on the same texts:

- `raw`: `SentencePieceProcessor.encode(texts)`, lists of Python ints: the baseline;
- `raw numpy`: the same call returning int32 buffers (`out_type="numpy"`, BOS/EOS
  added, one thread), the cheapest the library gives ids;
- `stage function`: the stage's own DoFn (`_TokenizeBatchFn`: batch encode, records
  built and isolated one document at a time) called directly, 64 documents a call;
- `DirectRunner`: `TokenizeText` on the DirectRunner with one worker, as its marginal
  cost per document: the run on all documents minus the run on the first few (the
  runner's fixed cost per pipeline and transform), less the same difference for a
  pipeline that reads and counts the examples without the stage.

CPU is `time.process_time()` (all threads of this process), summed over `--rounds`
rounds that rotate which side goes first, so a shared machine slows every side alike,
after one untimed pass of every side on a few documents (imports, the first pipeline).
The stage function is also split into its parts: encoding alone, building records
from the ids (`record_codec` + chunking), and what isolation and output objects add.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MAX_SEQ_LEN = 2048
BATCH = 64
SMALL = 4 * BATCH  # the few documents whose runs measure the runner's fixed cost


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


def _example(line: str):
    import json

    from polymix.transforms.example import Example

    doc = json.loads(line)
    return Example("real", doc["id"], "text", text=doc["text"])


def _run_stage(documents: Path, proto: bytes, with_stage: bool) -> None:
    """Read the documents, tokenize them (or not) and count the outputs.

    Read from a file rather than `Create`d: `Create` pickles and compresses its values
    into the graph, seconds of noise around the stage's own cost.
    """
    import apache_beam as beam

    from polymix.pipelines.tokenize import TokenizeText

    with beam.Pipeline(runner="DirectRunner") as pipeline:
        examples = pipeline | beam.io.ReadFromText(str(documents)) | beam.Map(_example)
        outputs = {"examples": examples}
        if with_stage:
            outputs = examples | TokenizeText(proto, MAX_SEQ_LEN)
        for name, pcoll in outputs.items():  # no Flatten: it would encode every output
            _ = pcoll | f"Count {name}" >> beam.combiners.Count.Globally()


def sides(docs: list[dict], proto: bytes, folder: Path) -> dict[str, Callable[[], object]]:
    import json

    import sentencepiece as spm

    from polymix.pipelines.tokenize import _TokenizeBatchFn
    from polymix.transforms.example import Example

    texts = [d["text"] for d in docs]
    examples = [Example("real", d["id"], "text", text=d["text"]) for d in docs]
    batches = _batches(examples, BATCH)
    processor = spm.SentencePieceProcessor(model_proto=proto)
    fn = _TokenizeBatchFn(proto, MAX_SEQ_LEN)
    fn.setup()
    files = {}
    for name, chosen in (("all", docs), ("few", docs[:SMALL])):
        files[name] = folder / f"{name}.jsonl"
        files[name].write_text(
            "".join(json.dumps({"id": d["id"], "text": d["text"]}) + "\n" for d in chosen)
        )
    return {
        "raw": lambda: processor.encode(texts),
        "raw numpy": lambda: processor.encode(
            texts, out_type="numpy", add_bos=True, add_eos=True, num_threads=1
        ),
        "stage function": lambda: [list(fn.process(batch)) for batch in batches],
        "DirectRunner": lambda: _run_stage(files["all"], proto, True),
        "DirectRunner, few": lambda: _run_stage(files["few"], proto, True),
        "no stage": lambda: _run_stage(files["all"], proto, False),
        "no stage, few": lambda: _run_stage(files["few"], proto, False),
    }


def parts(docs: list[dict], proto: bytes, rounds: int) -> dict[str, float]:
    """CPU of the stage function's parts per pass: encode, records from ids (the rest is
    isolation and output objects)."""
    from polymix.transforms.sentencepiece_tokenizer import TextTokenizer

    tokenizer = TextTokenizer(proto, MAX_SEQ_LEN)
    text_batches = _batches([d["text"] for d in docs], BATCH)
    encode = build = 0.0
    for _ in range(rounds):
        ids: list = []
        encode += _cpu(
            lambda ids=ids: [ids.extend(tokenizer.token_ids_batch(b)) for b in text_batches]
        )
        build += _cpu(
            lambda ids=ids: [
                list(tokenizer.records("real", "text", d["id"], d["text"], ids=i))
                for d, i in zip(docs, ids, strict=True)
            ]
        )
    tokens = float(sum(map(len, ids)))
    return {"encode": encode / rounds, "records": build / rounds, "tokens": tokens}


def measure(docs: list[dict], proto: bytes, rounds: int) -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix="polymix-tokenize-"))
    for warm_up in sides(docs[:BATCH], proto, folder).values():  # imports, first pipeline
        warm_up()
    work = sides(docs, proto, folder)
    names = list(work)
    totals = dict.fromkeys(names, 0.0)
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            totals[name] += _cpu(work[name])
    shutil.rmtree(folder)
    return totals


def report(docs: list[dict], totals: dict[str, float], split: dict[str, float]) -> None:
    rounds = totals.pop("_rounds")
    per_doc = {name: seconds / (rounds * len(docs)) for name, seconds in totals.items()}
    runner = totals["DirectRunner"] - totals["DirectRunner, few"]
    reading = totals["no stage"] - totals["no stage, few"]
    per_doc["DirectRunner, marginal"] = (runner - reading) / (rounds * (len(docs) - SMALL))
    per_doc["DirectRunner, whole run"] = per_doc.pop("DirectRunner")
    print(f"{len(docs)} documents, {sum(len(d['text']) for d in docs):,} characters")
    print(f"{split['tokens']:,.0f} tokens, {rounds:.0f} rounds")
    for name in ("raw", "raw numpy", "stage function", "DirectRunner, marginal"):
        seconds = per_doc[name]
        print(
            f"  {name:24s} {1 / seconds:7.0f} docs/CPU-s  {per_doc['raw'] / seconds:5.2f}x raw"
            f"  {per_doc['raw numpy'] / seconds:5.2f}x raw numpy"
        )
    whole, reads = per_doc["DirectRunner, whole run"], per_doc["no stage"]
    print(
        f"  DirectRunner whole run {1 / whole:.0f} docs/CPU-s (reading the file alone:"
        f" {1 / reads:.0f}/CPU-s); marginal = (all - first {SMALL}) of the run with the stage"
        " minus the same of the run without it"
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
    totals["_rounds"] = float(args.rounds)
    report(docs, totals, parts(docs, proto, args.rounds))


if __name__ == "__main__":
    main()
