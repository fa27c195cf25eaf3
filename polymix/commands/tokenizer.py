"""`polymix tokenizer train CONFIG`: train the SentencePiece model the config names.

Texts are read by the pipeline's own reader, so they are the documents a run would
see; an input the reader rejects, or a document whose normalization raises, is
skipped and counted (printed by reason), never the end of the command.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Iterator


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("tokenizer", help="tokenizer commands")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    train = verbs.add_parser("train", help="train SentencePiece on the configured sources")
    train.add_argument("config", help="YAML config; writes to its tokenizer.model path")
    train.add_argument("--vocab-size", type=int, help="override tokenizer.vocab_size")
    train.set_defaults(handler=handle_train)


def training_texts(config, limit: int, skipped: Counter | None = None) -> Iterator[str]:
    """Normalized texts of the configured sources, in file order, at most `limit` of them.

    Rejected inputs and failing documents are counted in `skipped` by `stage/reason`.
    """
    import functools

    from apache_beam.io.filesystems import FileSystems

    from polymix.pipelines.read import SourceRoots, open_raw, text_spec
    from polymix.transforms.example import Example
    from polymix.transforms.failures import failure_reason
    from polymix.transforms.normalize import normalize_source_text
    from polymix.transforms.read_text import read_text_file

    skipped = Counter() if skipped is None else skipped
    produced = 0
    for source in config.sources:
        if source.modality not in ("text", "code"):
            continue
        spec = text_spec(source, config.read)
        patterns = [config.resolve(p) for p in source.paths]
        roots = SourceRoots(patterns)
        paths = sorted({m.path for r in FileSystems.match(patterns) for m in r.metadata_list})
        for path in paths:
            opener = functools.partial(open_raw, path)
            for item in read_text_file(spec, opener, path, roots.file_id(path)):
                if not isinstance(item, Example):
                    skipped[f"{item.stage}/{item.reason}"] += 1
                    continue
                try:  # SentencePiece fails the whole training on a text it cannot take
                    text = normalize_source_text(item.text or "", config.normalize, source.modality)
                    text.encode("utf-8")
                except Exception as exc:
                    skipped[f"normalize/{failure_reason(exc)}"] += 1
                    continue
                if text:
                    yield text
                    produced += 1
                    if produced >= limit:
                        return


def handle_train(args: argparse.Namespace) -> int:
    from polymix.core.config import load_config
    from polymix.core.errors import UserFacingError
    from polymix.pipelines.file_io import read_bytes
    from polymix.transforms.sentencepiece_tokenizer import train_sentencepiece

    config = load_config(args.config, read_bytes)
    settings = config.tokenizer
    vocab = args.vocab_size or settings.vocab_size
    output = config.resolve(settings.model)
    skipped: Counter = Counter()
    texts = list(training_texts(config, settings.train_max_documents, skipped))
    if skipped:
        detail = ", ".join(f"{reason} {n}" for reason, n in sorted(skipped.items()))
        print(f"skipped {sum(skipped.values())} input(s): {detail}")
    if not texts:
        raise UserFacingError("no text found in the configured sources to train a tokenizer on")
    print(
        f"training a {settings.model_type} SentencePiece model ({vocab} pieces) on {len(texts)} documents"
    )
    try:
        digest = train_sentencepiece(
            texts,
            output,
            vocab_size=vocab,
            model_type=settings.model_type,
            character_coverage=settings.character_coverage,
            byte_fallback=settings.byte_fallback,
        )
    except RuntimeError as exc:  # SentencePiece refuses the settings (vocabulary too small, ...)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserFacingError(
            f"SentencePiece could not train on these settings: {reason}"
        ) from None
    print(f"wrote {output} (sha256 {digest[:16]}...)")
    return 0
