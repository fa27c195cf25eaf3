"""Media throughput per core: our transform and Beam pipeline vs. the libraries alone.

    .venv/bin/python benchmarks/media.py [--images 200] [--clips 20] [--clip-seconds 30]

Images: Pillow's full decode to RGB (the floor every image pipeline pays) next to
`MediaProcessor` (decode with draft scaling, filters, phash, resize, patches, record)
and `MediaSource` on the DirectRunner with one worker (read, process, exact + phash
dedup with connected components, records). Audio: soundfile decode alone and
librosa's log-mel alone (on the decoded signal) next to the same two. Ratios are
against the baseline measured in the same run, on the same generated files.

Rates are per CPU-second of this process (`time.process_time`), so a machine shared
with other jobs still gives per-core figures. The Beam rows are marginal rates: the
run on all files minus a run on the first `--small` files, which removes the
DirectRunner's fixed start-up and per-stage cost (printed separately).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _write_images(folder: Path, count: int, size: tuple[int, int]) -> list[Path]:
    import numpy as np

    from polymix.sample.media import encode_image, synthetic_image

    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    paths = []
    for i in range(count):
        path = folder / f"img-{i:05d}.jpg"
        path.write_bytes(encode_image(synthetic_image(rng, *size), "JPEG", quality=90))
        paths.append(path)
    return paths


def _write_clips(folder: Path, count: int, seconds: float) -> list[Path]:
    import numpy as np

    from polymix.sample.media import encode_audio, tone

    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    paths = []
    for i in range(count):
        rate = 44_100 if i % 2 else 16_000  # half need resampling, as real corpora do
        signal = tone(200 + 37 * i, seconds, 0.3, rate=rate)
        signal += 0.02 * rng.standard_normal(len(signal)).astype(np.float32)
        path = folder / f"clip-{i:04d}.flac"
        path.write_bytes(encode_audio(signal, "FLAC", rate=rate))
        paths.append(path)
    return paths


def _timed(fn, items) -> float:
    start = time.process_time()
    for item in items:
        fn(item)
    return time.process_time() - start


def _pipeline_seconds(source, media, base_dir: str, proto: bytes | None, seq: int) -> float:
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from polymix.pipelines.media import MediaSource

    start = time.process_time()
    with beam.Pipeline(options=PipelineOptions(["--direct_num_workers=1"])) as pipeline:
        outputs = pipeline | MediaSource(source, media, base_dir, proto, seq)
        _ = (
            outputs["records"]
            | beam.Map(lambda r: len(r.payload))
            | beam.combiners.Count.Globally()
        )
    return time.process_time() - start


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--image-size", type=int, nargs=2, default=(640, 480))
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--clip-seconds", type=float, default=30.0)
    parser.add_argument("--max-seq-len", type=int, default=2048)
    parser.add_argument("--small", type=int, default=10, help="files in the start-up run")
    parser.add_argument("--no-pipeline", action="store_true", help="skip the Beam runs")
    return parser.parse_args()


Row = tuple[str, float, str, "float | None"]


def _image_rows(images: list[bytes], media, seq: int) -> tuple[list[Row], float]:
    """Pillow's decode alone, then the whole image transform; and Pillow's seconds."""
    import io

    from PIL import Image

    from polymix.transforms.example import Example
    from polymix.transforms.media.process import MediaProcessor

    proc = MediaProcessor("image", media, None, seq)
    proc.process(Example("b", "w", "image", media=images[0]))  # imports, numba

    def pillow(data: bytes) -> None:
        Image.open(io.BytesIO(data)).convert("RGB")

    t_pillow = _timed(pillow, images)
    t_image = _timed(lambda d: proc.process(Example("b", "x", "image", media=d)), images)
    n = len(images)
    return [
        ("images: Pillow decode to RGB alone", n / t_pillow, "img/s", 1.0),
        ("images: MediaProcessor (decode..record)", n / t_image, "img/s", t_pillow / t_image),
    ], t_pillow


def _audio_rows(clips: list[bytes], seconds: float, media, seq: int) -> tuple[list[Row], float]:
    """soundfile and librosa's log-mel alone, then the whole audio transform; librosa's seconds."""
    import io

    import librosa
    import numpy as np
    import soundfile

    from polymix.transforms.example import Example
    from polymix.transforms.media.process import MediaProcessor

    proc = MediaProcessor("audio", media, None, seq)
    proc.process(Example("b", "w", "audio", media=clips[0]))  # filterbanks
    decoded = []

    def sf_decode(data: bytes) -> None:
        decoded.append(soundfile.read(io.BytesIO(data), dtype="float32"))

    t_sf = _timed(sf_decode, clips)
    at_16k = [
        librosa.resample(s, orig_sr=r, target_sr=16_000) if r != 16_000 else s for s, r in decoded
    ]

    def librosa_mel(signal: np.ndarray) -> None:
        mel = librosa.feature.melspectrogram(
            y=signal, sr=16_000, n_fft=512, hop_length=160, win_length=400, n_mels=128
        )
        np.log(np.maximum(mel, 1e-10))

    t_librosa = _timed(librosa_mel, at_16k)
    t_audio = _timed(lambda d: proc.process(Example("b", "x", "audio", media=d)), clips)
    return [
        ("audio: soundfile decode alone", seconds / t_sf, "audio-s/s", None),
        ("audio: librosa log-mel alone (decoded, 16k)", seconds / t_librosa, "audio-s/s", 1.0),
        (
            "audio: MediaProcessor (decode..record)",
            seconds / t_audio,
            "audio-s/s",
            t_librosa / t_audio,
        ),
    ], t_librosa


def _pipeline_row(kind: str, count: int, unit_total: float, base: float, args, root: Path, media):
    """The DirectRunner rate at the margin: all files minus a start-up run of `--small`."""
    from polymix.core.config.sources import SourceConfig

    ext, modality = ("jpg", "image") if kind == "img" else ("flac", "audio")
    small = root / f"{kind}-small"
    small.mkdir()
    for path in sorted((root / kind).glob(f"*.{ext}"))[: args.small]:
        (small / path.name).write_bytes(path.read_bytes())

    def source(folder: str) -> SourceConfig:
        return SourceConfig(
            name=kind, modality=modality, paths=[f"{folder}/*.{ext}"], format="files"
        )

    seq = args.max_seq_len
    t_all = _pipeline_seconds(source(kind), media, str(root), None, seq)
    t_small = _pipeline_seconds(source(f"{kind}-small"), media, str(root), None, seq)
    rate = (count - args.small) * (unit_total / count) / (t_all - t_small)
    label = "images" if kind == "img" else "audio"
    unit = "img/s" if kind == "img" else "audio-s/s"
    row = (f"{label}: MediaSource, DirectRunner, marginal", rate, unit, rate / (unit_total / base))
    return row, f"{kind}: {t_all:.1f} CPU-s for {count} files, {t_small:.1f} for {args.small}"


def main() -> None:
    args = _arguments()
    from polymix.core.config.media import MediaConfig

    media = MediaConfig()
    seq = args.max_seq_len
    fixed: list[str] = []
    audio_seconds = args.clips * args.clip_seconds
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        images = [p.read_bytes() for p in _write_images(root / "img", args.images, args.image_size)]
        clips = [p.read_bytes() for p in _write_clips(root / "aud", args.clips, args.clip_seconds)]
        rows, t_pillow = _image_rows(images, media, seq)
        audio_rows, t_librosa = _audio_rows(clips, audio_seconds, media, seq)
        if not args.no_pipeline:
            row, line = _pipeline_row("img", args.images, args.images, t_pillow, args, root, media)
            rows.append(row)
            fixed.append(line)
            row, line = _pipeline_row(
                "aud", args.clips, audio_seconds, t_librosa, args, root, media
            )
            audio_rows.append(row)
            fixed.append(line)
    w, h = args.image_size
    print(
        f"{args.images} JPEGs {w}x{h} q90; {args.clips} FLAC clips x {args.clip_seconds:g}s "
        f"(half at 44.1 kHz); max_seq_len {seq}; rates per CPU-second of this process"
    )
    print(f"{'what':48s} {'rate':>12s}  {'vs baseline':>11s}")
    for name, rate, unit, ratio in rows + audio_rows:
        shown = "" if ratio is None else f"{ratio:10.2f}x"
        print(f"{name:48s} {rate:8.1f} {unit:9s} {shown}")
    for line in fixed:
        print(f"DirectRunner runs: {line}")


if __name__ == "__main__":
    main()
