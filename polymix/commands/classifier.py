"""`polymix classifier train`: the fastText quality classifier the filters use.

`train` builds a DCLM/CCNet-style quality classifier from documents like the ones wanted
(`--positive`) against ordinary or junk ones (`--negative`), each given as files or as source
names from `--config`, and prints its held-out accuracy. The language-ID model, lid.176.ftz,
needs no command: it ships in polymix's wheel.
"""

from __future__ import annotations

import argparse
import glob
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from polymix.commands._output import add_json_flag, print_json, say
from polymix.core.errors import UserFacingError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("classifier", help="train or fetch fastText filter models")
    commands = parser.add_subparsers(dest="classifier_command", metavar="ACTION", required=True)

    train = commands.add_parser("train", help="train a fastText quality classifier")
    train.add_argument("--positive", nargs="+", required=True, help="files or source names")
    train.add_argument("--negative", nargs="+", required=True, help="files or source names")
    train.add_argument("--output", required=True, help="model file to write (.bin)")
    train.add_argument("--config", help="polymix YAML, to name sources instead of files")
    train.add_argument("--text-field", default="text", help="for files (sources use their own)")
    train.add_argument("--max-docs", type=int, default=0, help="per side; 0 = all")
    train.add_argument("--heldout", type=float, default=0.1, help="fraction held out to test")
    train.add_argument("--epoch", type=int, default=20)
    train.add_argument("--lr", type=float, default=0.5)
    train.add_argument("--word-ngrams", type=int, default=2)
    train.add_argument("--seed", type=int, default=0)
    add_json_flag(train)
    train.set_defaults(handler=handle_train)


def _expand(
    names: list[str], config_path: str | None, text_field: str
) -> list[tuple[str, str, str]]:
    """(path, format, text field) for every file or config source named."""
    sources = {}
    if config_path:
        from polymix.core.config import load_config
        from polymix.pipelines.file_io import read_bytes

        config = load_config(config_path, read_bytes)
        sources = {s.name: s for s in config.sources}
    files: list[tuple[str, str, str]] = []
    for name in names:
        if name in sources:
            source = sources[name]
            for pattern in source.paths:
                matched = sorted(glob.glob(config.resolve(pattern)))
                files += [(p, source.format, source.text_field) for p in matched]
        elif Path(name).is_file():
            files.append((name, "parquet" if name.endswith(".parquet") else "jsonl", text_field))
        else:
            raise UserFacingError(f"{name} is neither a file nor a source in the config")
    return files


def _texts(files: list[tuple[str, str, str]], limit: int, skipped: Counter) -> Iterator[str]:
    """Texts of the files, read as the pipeline reads them; what fails is counted, not fatal."""
    from polymix.transforms.example import Example
    from polymix.transforms.failures import failure_reason
    from polymix.transforms.filters.quality_classifier import prepare
    from polymix.transforms.read_text import TextSourceSpec, read_text_file

    count = 0
    for path, fmt, text_field in files:
        spec = TextSourceSpec("train", "text", fmt, text_field=text_field)
        opener = lambda p=path: open(p, "rb")  # noqa: E731, SIM115 (read_text_file closes it)
        for item in read_text_file(spec, opener, path, Path(path).name):
            if not isinstance(item, Example):
                skipped[f"{item.stage}/{item.reason}"] += 1
                continue
            if not item.text:
                continue
            try:  # what training does to each text, so one document cannot fail the whole fit
                prepare(item.text).encode("utf-8")
            except Exception as exc:
                skipped[f"prepare/{failure_reason(exc)}"] += 1
                continue
            yield item.text
            count += 1
            if limit and count >= limit:
                return


def handle_train(args: argparse.Namespace) -> int:
    from polymix.transforms.filters import quality_classifier

    skipped: Counter = Counter()
    positive = list(
        _texts(_expand(args.positive, args.config, args.text_field), args.max_docs, skipped)
    )
    negative = list(
        _texts(_expand(args.negative, args.config, args.text_field), args.max_docs, skipped)
    )
    if skipped:
        detail = ", ".join(f"{reason} {n}" for reason, n in sorted(skipped.items()))
        say(args, f"skipped {sum(skipped.values())} input(s): {detail}")
    if not positive or not negative:
        raise UserFacingError(
            f"need documents on both sides (got {len(positive)} positive, {len(negative)} negative)"
        )
    try:
        result = quality_classifier.train(
            positive,
            negative,
            args.output,
            heldout_fraction=args.heldout,
            seed=args.seed,
            epoch=args.epoch,
            lr=args.lr,
            word_ngrams=args.word_ngrams,
        )
    except (RuntimeError, ValueError) as exc:
        raise UserFacingError(str(exc)) from None
    if args.json:
        print_json(
            {
                "model": str(result.model_path),
                "train_documents": result.train_docs,
                "positive": len(positive),
                "negative": len(negative),
                "heldout_documents": result.heldout_docs,
                "heldout_accuracy": result.heldout_accuracy,
                "skipped": dict(sorted(skipped.items())),
            }
        )
        return 0
    print(
        f"wrote {result.model_path}: trained on {result.train_docs} documents "
        f"({len(positive)} positive, {len(negative)} negative); "
        f"held-out accuracy {result.heldout_accuracy:.3f} on {result.heldout_docs}"
    )
    return 0
