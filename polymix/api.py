"""polymix from Python: the calls behind `polymix run` and `polymix verify`, without a shell.

`run` goes through the same launcher as the command (every check before any work, the output's
lock, a slot published only once the whole run succeeded), so a notebook and `polymix run`
produce byte-identical outputs. Beam options are keyword arguments and are checked against
Beam's own parser, as the command checks its flags: a misspelled option is an error here too,
not a silent DirectRunner run.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from typing import Any

from polymix.core.config import Config, load_config
from polymix.core.manifest import Manifest, manifest_location, verify_manifest

log = logging.getLogger("polymix")


def beam_flags(options: Mapping[str, Any]) -> list[str]:
    """`runner="DirectRunner"` -> `--runner=DirectRunner`, in the order given.

    True is a bare flag (`save_main_session=True` -> `--save_main_session`); False and None
    leave the option out (Beam's default); a list repeats the flag (`experiments=[...]`).
    """
    flags: list[str] = []
    for name, value in options.items():
        if value is None or value is False:
            continue
        if value is True:
            flags.append(f"--{name}")
        elif isinstance(value, Iterable) and not isinstance(value, str | bytes):
            flags += [f"--{name}={item}" for item in value]
        else:
            flags.append(f"--{name}={value}")
    return flags


def _config(config: str | os.PathLike[str] | Config) -> Config:
    if isinstance(config, Config):
        return config
    from polymix.pipelines.file_io import read_bytes

    return load_config(os.fspath(config), read_bytes)


def run(
    config: str | os.PathLike[str] | Config,
    output: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    **beam_options: Any,
) -> Manifest:
    """Run the corpus pipeline into `output` (a folder or gs:// prefix); the published manifest.

    `config` is a YAML path (relative paths in it are relative to the file) or a `Config`
    (relative paths are relative to its `base_dir`). Warnings and notes the command would
    print go to the "polymix" logger. Raises `UserFacingError` for anything the user can fix.
    A run whose mixture cannot be planned is still published; its `manifest.plan` is None.
    """
    from polymix.commands._beam_flags import check_beam_flags
    from polymix.corpus_run import prepare, run_corpus

    flags = beam_flags(beam_options)
    check_beam_flags(flags)
    prepared = prepare(_config(config), os.fspath(output), overwrite=overwrite)
    for warning in prepared.warnings:
        log.warning("%s", warning)
    finished = run_corpus(prepared, flags)
    for notice in finished.notices:
        log.info("%s", notice)
    return finished.manifest


def verify(path: str | os.PathLike[str]) -> Manifest:
    """The manifest at `path` (a manifest.json or run folder) once every file it names checks out.

    Re-reads every shard, side file and the tokenizer copy and re-adds each source's totals, as
    `polymix verify` does; raises `ManifestError` naming the problems otherwise.
    """
    file, _ = manifest_location(path)
    return verify_manifest(file)
