"""`polymix tokenizer train CONFIG`: train the SentencePiece model the config names."""

from __future__ import annotations

import argparse
from collections.abc import Iterator


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("tokenizer", help="tokenizer commands")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    train = verbs.add_parser("train", help="train SentencePiece on the configured sources")
    train.add_argument("config", help="YAML config; writes to its tokenizer.model path")
    train.add_argument("--vocab-size", type=int, help="override tokenizer.vocab_size")
    train.set_defaults(handler=handle_train)


def training_texts(config, limit: int) -> Iterator[str]:
    """Normalized texts of the configured sources, in file order, at most `limit` of them."""
    import functools

    from apache_beam.io.filesystems import FileSystems

    from polymix.pipelines.read import file_id, open_raw
    from polymix.transforms.example import Example
    from polymix.transforms.normalize import normalize_text
    from polymix.transforms.read_text import TextSourceSpec, read_text_file

    produced = 0
    for source in config.sources:
        if source.modality not in ("text", "code"):
            continue
        spec = TextSourceSpec(
            source.name, source.modality, source.format, source.text_field, source.id_field
        )
        patterns = [config.resolve(p) for p in source.paths]
        paths = sorted({m.path for r in FileSystems.match(patterns) for m in r.metadata_list})
        for path in paths:
            opener = functools.partial(open_raw, path)
            for item in read_text_file(spec, opener, path, file_id(path, config.base_dir)):
                if isinstance(item, Example) and (text := normalize_text(item.text or "")):
                    yield text
                    produced += 1
                    if produced >= limit:
                        return


def handle_train(args: argparse.Namespace) -> int:
    from polymix.core.config import load_config
    from polymix.core.errors import UserFacingError
    from polymix.transforms.sentencepiece_tokenizer import train_sentencepiece

    config = load_config(args.config)
    settings = config.tokenizer
    vocab = args.vocab_size or settings.vocab_size
    output = config.resolve(settings.model)
    texts = list(training_texts(config, settings.train_max_documents))
    if not texts:
        raise UserFacingError("no text found in the configured sources to train a tokenizer on")
    print(
        f"training a {settings.model_type} SentencePiece model ({vocab} pieces) on {len(texts)} documents"
    )
    digest = train_sentencepiece(
        texts,
        output,
        vocab_size=vocab,
        model_type=settings.model_type,
        character_coverage=settings.character_coverage,
        byte_fallback=settings.byte_fallback,
    )
    print(f"wrote {output} (sha256 {digest[:16]}...)")
    return 0
