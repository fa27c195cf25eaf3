"""Model files (fastText) as workers get them: shipped with the job or read through Beam.

A worker on Dataflow has neither the launcher's disk nor its site-packages, so a path
that works on the launcher is useless there. At graph construction the launcher turns
each model into a `ModelFile` a worker can always open:

- small local files (lid.176.ftz is 0.9 MB) travel inside the DoFn as bytes, so workers
  need neither the file nor the package that ships it;
- larger local files stay where they are when the runner's workers share the launcher's
  disk (DirectRunner), and otherwise are copied once to
  `<temp_location>/polymix-models/<sha256>/<name>`;
- gs:// (any Beam scheme) paths are checked at launch and read by each worker.

A worker copies the model to its local scratch once per process (fastText loads from a
path) under a name made of its sha256, and checks the bytes against that sha256.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import uuid
from dataclasses import dataclass

from apache_beam.io.filesystems import FileSystems

from polymix.core.errors import UserFacingError
from polymix.pipelines.file_io import is_remote, read_bytes, write_bytes

INLINE_LIMIT = 4 * 2**20  # bytes carried in the job graph per model, at most
SHARED_DISK_RUNNERS = ("DirectRunner", "FnApiRunner", "SwitchingDirectRunner")
MODELS_FOLDER = "polymix-models"


class ModelUnavailable(UserFacingError, FileNotFoundError):
    """Workers would not find a model the config names."""


@dataclass(frozen=True)
class ModelFile:
    key: str  # the config key, for messages
    name: str  # file name, kept so fastText sees the usual suffix
    sha256: str | None  # None for a remote path not read at launch
    data: bytes | None = None
    uri: str | None = None


@dataclass(frozen=True)
class Placement:
    """What the launcher knows about where workers run."""

    shared_disk: bool
    temp_location: str | None
    dry_run: bool


def placement_from_options(options) -> Placement:
    from apache_beam.options.pipeline_options import (
        GoogleCloudOptions,
        StandardOptions,
        TestOptions,
    )

    runner = str(options.view_as(StandardOptions).runner or "DirectRunner")
    cloud = options.view_as(GoogleCloudOptions)
    return Placement(
        shared_disk=any(runner.endswith(name) for name in SHARED_DISK_RUNNERS),
        temp_location=cloud.temp_location or cloud.staging_location,
        dry_run=bool(options.view_as(TestOptions).dry_run),
    )


def _remote(key: str, path: str) -> ModelFile:
    try:
        readable = FileSystems.exists(path)
    except Exception as exc:  # noqa: BLE001  (no credentials, no bucket, no scheme)
        raise ModelUnavailable(f"{key}: {path} cannot be read ({exc})") from None
    if not readable:
        raise ModelUnavailable(f"{key}: {path} does not exist")
    return ModelFile(key, path.rsplit("/", 1)[-1], None, uri=path)


def stage_model(key: str, path: str, where: Placement) -> ModelFile:
    """How workers will get the model at `path` (an absolute local path or a URI)."""
    if is_remote(path):
        return _remote(key, path)
    if not os.path.isfile(path):
        raise ModelUnavailable(f"{key}: {path} does not exist")
    name = os.path.basename(path)
    size = os.path.getsize(path)
    if size <= INLINE_LIMIT:
        data = read_bytes(path)
        return ModelFile(key, name, hashlib.sha256(data).hexdigest(), data=data)
    if where.shared_disk:
        return ModelFile(key, name, None, uri=path)
    if not where.temp_location:
        raise ModelUnavailable(
            f"{key}: {path} is a local file of {size / 2**20:.0f} MiB that this runner's "
            "workers cannot read; put it on gs:// or pass --temp_location to stage it"
        )
    data = read_bytes(path)
    digest = hashlib.sha256(data).hexdigest()
    target = f"{where.temp_location.rstrip('/')}/{MODELS_FOLDER}/{digest}/{name}"
    if not where.dry_run and not FileSystems.exists(target):
        write_bytes(target, data)
    return ModelFile(key, name, digest, uri=target)


def local_copy(model: ModelFile) -> str:
    """A local path holding the model's bytes, on this worker (made once per process)."""
    if model.data is None and model.uri and not is_remote(model.uri):
        return model.uri
    tag = model.sha256 or hashlib.sha256((model.uri or "").encode()).hexdigest()
    path = os.path.join(tempfile.gettempdir(), MODELS_FOLDER, tag, model.name)
    if os.path.isfile(path):
        return path
    data = model.data if model.data is not None else read_bytes(model.uri or "")
    if model.sha256 and hashlib.sha256(data).hexdigest() != model.sha256:
        raise ValueError(f"{model.key}: {model.uri} changed since launch (sha256 differs)")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    partial = f"{path}.tmp-{uuid.uuid4().hex}"
    with open(partial, "wb") as out:
        out.write(data)
    os.replace(partial, path)
    return path
