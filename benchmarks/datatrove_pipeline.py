"""DataTrove's side of `benchmarks/whole_pipeline.py`: the same steps as `polymix run`.

    python benchmarks/datatrove_pipeline.py DOCS_FOLDER SPM_MODEL OUTPUT WORKERS BANDS ROWS

Four LocalPipelineExecutor stages, each with WORKERS tasks on WORKERS processes (the
bucket stage one task per band): signatures, buckets, clusters, then read -> drop the
duplicates -> language, Gopher repetition, Gopher quality, C4, FineWeb, PII -> tokens.
Every removed document goes to an exclusion writer (jsonl.gz), as polymix writes
rejected/ and duplicates/.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import xxhash  # noqa: E402
from datatrove.pipeline.base import PipelineStep  # noqa: E402
from datatrove.pipeline.dedup.minhash import MinhashDedupSignature  # noqa: E402


def xxh64_of_text(text: str) -> int:
    """What DataTrove's `xxhash64` returned for a str under xxhash 3 (UTF-8, seed 0)."""
    return xxhash.xxh64_intdigest(text.encode("utf-8"))


class Signatures(MinhashDedupSignature):
    """DataTrove's signature step with its xxhash64 fed UTF-8 (xxhash 4 refuses str)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._hash_func = xxh64_of_text


class SentencePieceTokens(PipelineStep):
    """Token ids of each document, in batches of 64, appended to one uint32 file per rank."""

    name = "SentencePiece tokens"
    type = "TOKENIZER"

    def __init__(self, model: str, output_folder: str) -> None:
        super().__init__()
        self.model = model
        self.output_folder = output_folder

    def run(self, data, rank: int = 0, world_size: int = 1):
        import sentencepiece

        processor = sentencepiece.SentencePieceProcessor(model_file=self.model)
        os.makedirs(self.output_folder, exist_ok=True)
        batch = []
        with open(f"{self.output_folder}/{rank:05d}.tokens", "wb") as out:
            for doc in data:
                batch.append(doc)
                if len(batch) == 64:
                    yield from self._write(processor, batch, out)
                    batch = []
            yield from self._write(processor, batch, out)

    def _write(self, processor, batch, out):
        for doc, ids in zip(batch, processor.encode([d.text for d in batch]), strict=True):
            out.write(np.asarray(ids, dtype=np.uint32).tobytes())
            self.stat_update("tokens", value=len(ids))
            yield doc


def filters(output: str) -> list:
    """The chain of `benchmarks/filters.py`, each filter writing what it drops."""
    from datatrove.pipeline.formatters import PIIFormatter
    from datatrove.pipeline.writers import JsonlWriter

    from benchmarks.filters import datatrove_chain

    chain = [(name, block) for name, block in datatrove_chain() if name != "pii"]
    for name, block in chain:
        block.exclusion_writer = JsonlWriter(f"{output}/rejected/{name}")
    return [block for _, block in chain] + [PIIFormatter()]


def main() -> None:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
    )
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    from benchmarks.datatrove_pipeline import SentencePieceTokens, Signatures

    docs, model, output, workers, bands, rows = sys.argv[1:7]
    workers = int(workers)
    config = MinhashConfig(num_buckets=int(bands), hashes_per_bucket=int(rows))
    logs = f"{output}/logs"
    common = {"workers": workers, "start_method": "fork"}
    signatures = LocalPipelineExecutor(
        [JsonlReader(docs), Signatures(output_folder=f"{output}/sigs", config=config)],
        tasks=workers,
        logging_dir=f"{logs}/sigs",
        **common,
    )
    buckets = LocalPipelineExecutor(
        [
            MinhashDedupBuckets(
                input_folder=f"{output}/sigs", output_folder=f"{output}/buckets", config=config
            )
        ],
        tasks=config.num_buckets,
        logging_dir=f"{logs}/buckets",
        depends=signatures,
        **common,
    )
    clusters = LocalPipelineExecutor(
        [
            MinhashDedupCluster(
                input_folder=f"{output}/buckets", output_folder=f"{output}/remove", config=config
            )
        ],
        tasks=1,
        logging_dir=f"{logs}/clusters",
        depends=buckets,
        workers=1,
    )
    final = LocalPipelineExecutor(
        [
            JsonlReader(docs),
            MinhashDedupFilter(
                input_folder=f"{output}/remove",
                exclusion_writer=JsonlWriter(f"{output}/duplicates"),
            ),
            *filters(output),
            SentencePieceTokens(model, f"{output}/tokens"),
        ],
        tasks=workers,
        logging_dir=f"{logs}/final",
        depends=clusters,
        **common,
    )
    final.run()


if __name__ == "__main__":
    main()
