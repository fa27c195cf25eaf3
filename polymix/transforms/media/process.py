"""One input example → its shard records, dedup keys and signature, or a `MediaRejected`.

Decoding happens once: the same pass yields the records (kept examples need them),
the exact-content key and the perceptual signature (dedup needs them), so dedup can
run on the small keys and the heavy records only travel once more, to their shard.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from polymix.core import record_layout as L
from polymix.transforms.example import Example, TokenizedRecord
from polymix.transforms.media import records as R
from polymix.transforms.media.audio import check_audio, decode_audio
from polymix.transforms.media.errors import DECODE, MediaRejected
from polymix.transforms.media.fingerprint import audio_signature
from polymix.transforms.media.image import (
    check_image,
    open_image,
    patch_grid,
    resize_to_grid,
    to_patches,
)
from polymix.transforms.media.mel import MelExtractor
from polymix.transforms.media.phash import image_hash
from polymix.transforms.media.video import decode_video
from polymix.transforms.normalize import normalize_text
from polymix.transforms.sentencepiece_tokenizer import EOS_ID, TextTokenizer

TOKENIZE = "media_tokenize"


@dataclass(frozen=True)
class MediaResult:
    """A decoded, filtered example: its records, exact-content key and perceptual signature."""

    example: Example  # without its media bytes
    records: tuple[TokenizedRecord, ...]
    content_key: str  # sha256 of the decoded pixels / samples
    signature: bytes  # perceptual hashes: one per picture, sampled frame or audio window


class MediaProcessor:
    """Per-worker state (tokenizer, mel filterbank) and the per-example entry point.

    `media` is a `polymix.core.config.media.MediaConfig`. Without a tokenizer model, captions
    are not tokenized (records carry no `tokens`).
    """

    def __init__(
        self, modality: str, media: Any, tokenizer_proto: bytes | None, max_seq_len: int
    ) -> None:
        if modality not in ("image", "audio", "video"):
            raise ValueError(f"not a media modality: {modality!r}")
        self.modality = modality
        self.media = media
        self.max_seq_len = max_seq_len
        self.tokenizer = TextTokenizer(tokenizer_proto, max_seq_len) if tokenizer_proto else None
        self.mel = MelExtractor(media.audio) if modality in ("audio", "video") else None

    def process(self, example: Example) -> MediaResult:
        data = example.media or b""
        handler = {"image": self._image, "audio": self._audio, "video": self._video}
        try:
            return handler[self.modality](example.replace(media=None), data)
        except MediaRejected:
            raise
        except Exception as exc:  # a library failing in a way no rule names: counted, not fatal
            raise MediaRejected("unexpected_error", f"{type(exc).__name__}: {exc}") from exc

    def caption_tokens(self, text: str | None, limit: int) -> np.ndarray:
        """BOS .. EOS ids of the normalized caption, cut to `limit` keeping the EOS."""
        if self.tokenizer is None or text is None:
            return np.zeros(0, np.int32)
        text = normalize_text(text)
        if not text:
            return np.zeros(0, np.int32)
        ids = self.tokenizer.token_ids(text)
        if len(ids) > limit:
            ids = np.concatenate([ids[: limit - 1], [EOS_ID]]).astype(np.int32)
        return ids

    # -- image ------------------------------------------------------------------------

    def _image(self, example: Example, data: bytes) -> MediaResult:
        config = self.media.image
        tokens = self.caption_tokens(example.text, config.max_caption_tokens)
        budget = min(config.max_patches, self.max_seq_len - len(tokens) - L.MARKERS_PER_BLOCK)
        image, (width, height) = open_image(data, config, max(budget, 1))
        check_image(width, height, image, config)
        grid = patch_grid(image.width, image.height, config.patch_size, budget)
        if grid is None:
            raise MediaRejected(
                "does_not_fit",
                f"{width}x{height} needs more than {budget} patches at patch size "
                f"{config.patch_size} (max_seq_len {self.max_seq_len}, {len(tokens)} text tokens)",
                stage=TOKENIZE,
            )
        rows, cols = grid
        pixels = resize_to_grid(image, rows, cols, config.patch_size)
        patches = to_patches(pixels, config.patch_size)
        arrays = {"patches": patches}
        if len(tokens):
            arrays["tokens"] = tokens
        fields = {
            "grid": [rows, cols],
            "patch": config.patch_size,
            "width": width,
            "height": height,
            **R.text_fields(example.attributes),
        }
        rid, payload = R.encode_record(example.source, "image", example.id, 0, 1, fields, arrays)
        positions = L.positions(tokens=len(tokens), patches=len(patches), image_blocks=1)
        record = TokenizedRecord(example.source, "image", rid, payload, positions, example.id)
        signature = b""
        if self.media.perceptual_dedup.enabled:
            signature = image_hash(image, self.media.perceptual_dedup.hash_size)
        key = _digest([np.asarray(image, np.uint8)])
        return MediaResult(example, (record,), key, signature)

    # -- audio ------------------------------------------------------------------------

    def _audio(self, example: Example, data: bytes) -> MediaResult:
        config = self.media.audio
        signal = decode_audio(data, config)
        check_audio(signal, config)
        tokens = self.caption_tokens(example.text, config.max_caption_tokens)
        assert self.mel is not None
        total = self.mel.num_frames(len(signal))
        per_segment = min(
            max(1, round(config.segment_seconds * 1000 / config.hop_ms)),
            (self.max_seq_len - len(tokens) - L.MARKERS_PER_BLOCK) * config.stack,
        )
        if per_segment < 1:
            raise MediaRejected(
                "does_not_fit",
                f"{len(tokens)} transcript tokens leave no room (max_seq_len {self.max_seq_len})",
                stage=TOKENIZE,
            )
        chunks = math.ceil(total / per_segment)
        hop_s = self.mel.hop_seconds
        out, mels = [], []
        for k in range(chunks):
            start, stop = k * per_segment, min(total, (k + 1) * per_segment)
            mel = self.mel.log_mel(signal, start, stop).astype(np.float16)
            mels.append(mel)
            arrays = {"mel": mel}
            seg_tokens = tokens if k == 0 else tokens[:0]
            if len(seg_tokens):
                arrays["tokens"] = seg_tokens
            fields = {
                **self._audio_fields(),
                "start_s": round(start * hop_s, 6),
                "duration_s": round(len(signal) / config.sample_rate, 6),
                **(R.text_fields(example.attributes) if k == 0 else {}),
            }
            rid, payload = R.encode_record(
                example.source, "audio", example.id, k, chunks, fields, arrays
            )
            positions = L.positions(tokens=len(seg_tokens), mel_frames=len(mel), stack=config.stack)
            out.append(
                TokenizedRecord(example.source, "audio", rid, payload, positions, example.id)
            )
        signature = self._audio_signature(mels, per_segment)
        return MediaResult(example, tuple(out), _digest([signal]), signature)

    def _audio_signature(self, mels: list[np.ndarray], per_segment: int) -> bytes:
        """The clip's fingerprint, from the very frames its records hold (`mels`, segment
        k holding frames [k * per_segment, ...)): no second STFT."""
        dedup = self.media.perceptual_dedup
        assert self.mel is not None
        if not dedup.enabled:
            return b""

        def frames(start: int, stop: int) -> np.ndarray:
            first, last = start // per_segment, (stop - 1) // per_segment
            parts = [
                mels[k][max(0, start - k * per_segment) : stop - k * per_segment]
                for k in range(first, last + 1)
            ]
            return parts[0] if len(parts) == 1 else np.concatenate(parts)

        return audio_signature(
            frames,
            sum(len(m) for m in mels),
            self.mel.hop_seconds,
            dedup.hash_size,
            dedup.audio_window_seconds,
            dedup.audio_windows,
        )

    def _audio_fields(self) -> dict[str, Any]:
        assert self.mel is not None
        return {
            "sample_rate": self.mel.sample_rate,
            "hop_s": self.mel.hop_seconds,
            "window_s": self.mel.win_length / self.mel.sample_rate,
            "n_mels": self.mel.n_mels,
            "stack": self.media.audio.stack,
        }

    # -- video ------------------------------------------------------------------------

    def _video(self, example: Example, data: bytes) -> MediaResult:
        video, grid = self._decoded_video(data)
        tokens = self.caption_tokens(example.text, self.media.video.max_caption_tokens)
        per_segment = self._frames_per_segment(video, tokens, grid)
        # segment k holds sampled frames [k*per_segment, (k+1)*per_segment): a time window
        chunks = math.ceil(len(video.frames) / per_segment)
        out = tuple(
            self._video_segment(example, video, tokens, grid, (k, chunks, per_segment))
            for k in range(chunks)
        )
        parts = [patches for patches, _ in video.frames]
        if video.audio is not None:
            parts.append(video.audio)
        return MediaResult(example, out, _digest(parts), self._video_signature(video))

    def _decoded_video(self, data: bytes) -> tuple[Any, tuple[int, int]]:
        """Frames cut into patches on one grid (the first frame's), and a checked audio track."""
        config, audio_config = self.media.video, self.media.audio
        patch = self.media.image.patch_size
        dedup = self.media.perceptual_dedup
        grids: list[tuple[int, int]] = []

        def frame_fn(width: int, height: int):
            grid = patch_grid(width, height, patch, config.max_patches_per_frame)
            if grid is None:
                raise MediaRejected("does_not_fit", f"{width}x{height} frame", stage=TOKENIZE)
            grids.append(grid)

            def keep(image: Image.Image) -> tuple[np.ndarray, bytes]:
                patches = to_patches(resize_to_grid(image, *grid, patch), patch)
                return patches, image_hash(image, dedup.hash_size) if dedup.enabled else b""

            return keep

        video = decode_video(data, config, audio_config, frame_fn)
        if video.audio is not None and not len(video.audio):  # a track without samples
            if config.require_audio:
                raise MediaRejected("empty_audio", "the audio track has no samples", stage=DECODE)
            video.audio = None
        if video.audio is not None:
            check_audio(video.audio, audio_config, silence=False)
        return video, grids[0]

    def _frames_per_segment(self, video: Any, tokens: np.ndarray, grid: tuple[int, int]) -> int:
        """The most sampled frames (up to `segment_seconds`) whose record fits max_seq_len."""
        config, stack = self.media.video, self.media.audio.stack
        per_frame = L.image_positions(grid[0] * grid[1])
        fps = config.frames_per_second
        assert self.mel is not None
        hop_s = self.mel.hop_seconds

        def positions(k: int) -> int:  # worst case for a segment of k sampled frames
            audio = 0
            if video.audio is not None:
                audio = L.audio_positions(math.ceil(k / fps / hop_s) + 1, stack)
            return len(tokens) + k * per_frame + audio

        per_segment = max(1, math.floor(config.segment_seconds * fps + 1e-9))
        while per_segment > 0 and positions(per_segment) > self.max_seq_len:
            per_segment -= 1
        if per_segment == 0:
            raise MediaRejected(
                "does_not_fit",
                f"one frame of {grid[0]}x{grid[1]} patches (+ audio, {len(tokens)} text tokens) "
                f"exceeds max_seq_len {self.max_seq_len}",
                stage=TOKENIZE,
            )
        return per_segment

    def _video_segment(
        self,
        example: Example,
        video: Any,
        tokens: np.ndarray,
        grid: tuple[int, int],
        segment: tuple[int, int, int],
    ) -> TokenizedRecord:
        """Record k of `chunks`: its frames, the audio of its time window, the caption if first."""
        k, chunks, per_segment = segment
        fps, stack = self.media.video.frames_per_second, self.media.audio.stack
        assert self.mel is not None
        hop_s = self.mel.hop_seconds
        n = len(video.frames)
        lo, hi = k * per_segment, min(n, (k + 1) * per_segment)
        window = (lo / fps, (k + 1) * per_segment / fps)
        arrays: dict[str, np.ndarray] = {
            "patches": np.concatenate([patches for patches, _ in video.frames[lo:hi]]),
            "frame_times": np.asarray(video.times[lo:hi], np.float32),
        }
        m0 = 0
        if video.audio is not None:
            mel_total = self.mel.num_frames(len(video.audio))
            m0 = _clamp(math.ceil((window[0] - video.audio_start) / hop_s - 1e-9), mel_total)
            m1 = _clamp(math.ceil((window[1] - video.audio_start) / hop_s - 1e-9), mel_total)
            if m1 > m0:
                arrays["mel"] = self.mel.log_mel(video.audio, m0, m1).astype(np.float16)
        seg_tokens = tokens if k == 0 else tokens[:0]
        if len(seg_tokens):
            arrays["tokens"] = seg_tokens
        fields = {
            "grid": list(grid),
            "patch": self.media.image.patch_size,
            "frames_per_second": fps,
            "n_frames": hi - lo,
            "start_s": window[0],
            "end_s": window[1],
            "mel_start_s": round(video.audio_start + m0 * hop_s, 6),
            "has_audio": video.audio is not None,
            "width": video.width,
            "height": video.height,
            "duration_s": round(video.duration, 6),
            **self._audio_fields(),
            **(R.text_fields(example.attributes) if k == 0 else {}),
        }
        rid, payload = R.encode_record(
            example.source, "video", example.id, k, chunks, fields, arrays
        )
        count = L.positions(
            tokens=len(seg_tokens),
            patches=len(arrays["patches"]),
            image_blocks=hi - lo,
            mel_frames=len(arrays["mel"]) if "mel" in arrays else 0,
            stack=stack,
        )
        return TokenizedRecord(example.source, "video", rid, payload, count, example.id)

    def _video_signature(self, video: Any) -> bytes:
        """The perceptual hashes of up to `video_frames` frames spread over the video."""
        dedup = self.media.perceptual_dedup
        if not dedup.enabled:
            return b""
        n = len(video.frames)
        picks = np.unique(np.linspace(0, n - 1, min(n, dedup.video_frames)).round().astype(int))
        return b"".join(video.frames[i][1] for i in picks)


def _clamp(value: int, high: int) -> int:
    return max(0, min(high, value))


def _digest(arrays: list[np.ndarray]) -> str:
    h = hashlib.sha256()
    for array in arrays:
        h.update(str(array.shape).encode())
        h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()


def decoded_image(data: bytes, config: Any) -> Image.Image:
    """The upright RGB image the processor works on (tests, benchmarks)."""
    return open_image(data, config)[0]
