"""`polymix tokenizer train CONFIG`: train the SentencePiece model the config names.

Texts are read by the pipeline's own reader, so they are the documents a run would
see; an input the reader rejects, or a document whose normalization raises, is
skipped and counted (printed by reason), never the end of the command.
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from polymix.commands._arguments import positive_int
from polymix.commands._output import add_json_flag, print_json, say


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("tokenizer", help="tokenizer commands")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    train = verbs.add_parser("train", help="train SentencePiece on the configured sources")
    train.add_argument("config", help="YAML config; writes to its tokenizer.model path")
    train.add_argument("--vocab-size", type=positive_int, help="override tokenizer.vocab_size")
    train.add_argument(
        "--allow-smaller",
        action="store_true",
        help="write a smaller vocabulary when the text cannot reach the requested size",
    )
    add_json_flag(train)
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

    config = load_config(args.config, read_bytes)
    settings = config.tokenizer
    requested = args.vocab_size or settings.vocab_size
    output = Path(config.resolve(settings.model))
    skipped: Counter = Counter()
    texts = list(training_texts(config, settings.train_max_documents, skipped))
    if skipped:
        detail = ", ".join(f"{reason} {n}" for reason, n in sorted(skipped.items()))
        say(args, f"skipped {sum(skipped.values())} input(s): {detail}")
    if not texts:
        raise UserFacingError("no text found in the configured sources to train a tokenizer on")
    say(
        args,
        f"training a {settings.model_type} SentencePiece model ({requested} pieces) "
        f"on {len(texts)} documents",
    )
    digest, pieces = _accepted_model(texts, output, requested, settings, args.allow_smaller)
    smaller = f" (requested {requested}; the documents reach no more)" if pieces < requested else ""
    if args.json:
        print_json(
            {
                "model": str(output),
                "sha256": digest,
                "vocab_size": pieces,
                "requested_vocab_size": requested,
                "documents": len(texts),
                "skipped": dict(sorted(skipped.items())),
            }
        )
    else:
        print(f"wrote {output}: {pieces} pieces{smaller} (sha256 {digest[:16]}...)")
    return 0


def _accepted_model(
    texts: list[str], output: Path, requested: int, settings: Any, allow_smaller: bool
) -> tuple[str, int]:
    """Train; keep the model only if it has the pieces asked for (or smaller ones are allowed).

    Trained beside the target and moved into place only when accepted, so a refused
    vocabulary never replaces the model a config already points at. Returns (sha256, pieces).
    """
    import sentencepiece as spm

    from polymix.core.errors import UserFacingError

    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=output.parent, prefix=".spm-") as scratch:
        trial = Path(scratch) / output.name
        digest = _train(texts, trial, requested, settings)
        pieces = spm.SentencePieceProcessor(model_file=str(trial)).get_piece_size()
        if pieces < requested and not allow_smaller:
            raise UserFacingError(
                f"vocabulary of {requested} pieces requested, but these {len(texts)} documents "
                f"reach only {pieces}; add text, pass --vocab-size {pieces}, or --allow-smaller"
            )
        os.replace(trial, output)
    return digest, pieces


_TOO_SMALL = re.compile(r"smaller than required_chars\. (\d+) vs (\d+)")


def _train(texts: list[str], output: Path, vocab_size: int, settings: Any) -> str:
    """Train to `output`; SentencePiece's refusals become one line naming the culprit."""
    from polymix.core.errors import UserFacingError
    from polymix.transforms.sentencepiece_tokenizer import train_sentencepiece

    try:
        return train_sentencepiece(
            texts,
            output,
            vocab_size=vocab_size,
            model_type=settings.model_type,
            character_coverage=settings.character_coverage,
            byte_fallback=settings.byte_fallback,
        )
    except RuntimeError as exc:  # SentencePiece refuses the settings (vocabulary too small, ...)
        text = str(exc).strip()
        too_small = _TOO_SMALL.search(text)
        if too_small:
            # Every character to cover, the byte pieces and the specials need a piece each.
            raise UserFacingError(
                f"vocabulary of {vocab_size} pieces requested, but SentencePiece needs at least "
                f"{too_small.group(2)} for the characters of these documents: pass a larger "
                "--vocab-size"
            ) from None
        reason = text.splitlines()[0] if text else type(exc).__name__
        raise UserFacingError(
            f"SentencePiece could not train on these settings: {reason}"
        ) from None
