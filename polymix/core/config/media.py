"""The `media` section: decoding limits, filters, dedup and tokenization of images, audio, video.

Every number the media stages use lives here, so a run's config hash pins the bytes of
its media records. Limits (`max_file_bytes`, `max_pixels`, `max_seconds`, `max_packets`,
`max_decoded_frames`) bound what one input can cost a worker: a file over them is
rejected with a reason. They count work, never time, so a file gets the same decision
on an idle worker and on a loaded one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import Field, model_validator

from polymix.core.config.base import Section

IMAGE_CHANNELS = 3  # every image and video frame is decoded to 8-bit RGB


class ImageConfig(Section):
    patch_size: int = Field(16, ge=1, le=64, description="Side of a square patch in pixels.")
    max_patches: int = Field(
        256,
        ge=1,
        description="Most patches per image; larger images are resized down (aspect kept).",
    )
    max_file_bytes: int = Field(
        32 * 2**20, ge=1, description="Reject image files larger than this before decoding."
    )
    max_pixels: int = Field(
        64_000_000,
        ge=1,
        description="Reject images with more pixels (read from the header, before decoding): "
        "the decompression-bomb guard.",
    )
    min_side: int = Field(32, ge=1, description="Reject images with a shorter side in pixels.")
    max_aspect_ratio: float = Field(
        4.0, ge=1.0, description="Reject images whose long side exceeds the short one this often."
    )
    min_pixel_std: float = Field(
        3.0,
        ge=0.0,
        description="Reject near-constant images: grey-level standard deviation below this (0-255).",
    )
    max_caption_tokens: int = Field(
        256,
        ge=2,
        description="Caption tokens kept (BOS..EOS); a longer caption is cut, keeping its EOS.",
    )


class AudioConfig(Section):
    sample_rate: int = Field(16_000, ge=1000, description="Decoded audio is resampled to this.")
    n_mels: int = Field(128, ge=1, description="Mel bins per frame.")
    window_ms: float = Field(25.0, gt=0, description="Analysis window length in milliseconds.")
    hop_ms: float = Field(10.0, gt=0, description="Hop between mel frames in milliseconds.")
    stack: int = Field(
        4, ge=1, description="Mel frames per sequence position (the model stacks them)."
    )
    max_file_bytes: int = Field(
        256 * 2**20, ge=1, description="Reject audio files larger than this before decoding."
    )
    min_seconds: float = Field(0.5, ge=0, description="Reject clips shorter than this.")
    max_seconds: float = Field(
        3600.0,
        gt=0,
        description="Reject clips longer than this (read from the header, before decoding).",
    )
    segment_seconds: float = Field(
        30.0,
        gt=0,
        description="Cut clips into records of at most this length (less when a segment "
        "would not fit shards.max_seq_len).",
    )
    silence_db: float = Field(
        -50.0, description="A 10 ms frame quieter than this (dB RMS, full scale 0) is silent."
    )
    max_silence_fraction: float = Field(
        0.9, ge=0, le=1, description="Reject clips with a larger fraction of silent frames."
    )
    clip_level: float = Field(
        0.999, gt=0, le=1, description="A sample at or above this magnitude counts as clipped."
    )
    max_clipped_fraction: float = Field(
        0.01, ge=0, le=1, description="Reject clips with a larger fraction of clipped samples."
    )
    max_caption_tokens: int = Field(
        256, ge=2, description="Transcript tokens kept (BOS..EOS) in a clip's first record."
    )
    max_packets: int = Field(
        500_000,
        ge=1,
        description="Reject audio that FFmpeg decodes (m4a, opus, ...) in more packets than "
        "this: bounds the work whatever the header claims (an hour is ~50k-200k).",
    )


class VideoConfig(Section):
    frames_per_second: float = Field(
        1.0, gt=0, description="Frames sampled per second of video, each one image block."
    )
    max_patches_per_frame: int = Field(
        64, ge=1, description="Most patches per sampled frame (frames are resized down)."
    )
    max_file_bytes: int = Field(
        512 * 2**20, ge=1, description="Reject video files larger than this before decoding."
    )
    min_seconds: float = Field(0.5, ge=0, description="Reject videos shorter than this.")
    max_seconds: float = Field(
        1800.0, gt=0, description="Reject videos longer than this (container header)."
    )
    min_side: int = Field(32, ge=1, description="Reject videos with a shorter frame side.")
    max_pixels: int = Field(
        8_294_400, ge=1, description="Reject videos with larger frames (default: 3840x2160)."
    )
    segment_seconds: float = Field(
        10.0,
        gt=0,
        description="Cut videos into records of at most this length (less when a segment "
        "would not fit shards.max_seq_len).",
    )
    require_audio: bool = Field(
        False,
        description="Reject videos without an audio track (reason no_audio_stream) or with an "
        "empty one (empty_audio). Off: such a video is kept as frames only (its records "
        "have no mel, has_audio false).",
    )
    max_caption_tokens: int = Field(
        256, ge=2, description="Caption tokens kept (BOS..EOS) in a video's first record."
    )
    max_decoded_frames: int = Field(
        216_000,
        ge=1,
        description="Reject videos that need more decoded frames (sampled or not) than this: "
        "bounds the work whatever the timestamps claim (default: max_seconds at 120 fps).",
    )
    max_packets: int = Field(
        500_000,
        ge=1,
        description="Reject videos with more packets (video and audio track) than this.",
    )


class PerceptualDedupConfig(Section):
    enabled: bool = Field(
        True,
        description="Remove near-duplicate images, videos and audio clips (the same clip in "
        "another codec or bit rate) by perceptual hash.",
    )
    hash_size: int = Field(
        8, ge=4, le=16, description="imagehash.phash hash_size: the hash has hash_size^2 bits."
    )
    max_distance: int = Field(
        10,
        ge=0,
        description="Hamming distance at or below which two hashes are the same picture "
        "(64-bit phash: re-encodes and resizes ~2, a 2% crop up to ~10, distinct images 14+).",
    )
    bucket_size: int = Field(
        32,
        ge=2,
        description="Bucket size the LSH bands aim at: bands get wider as the corpus grows, so "
        "buckets stay this small (a small corpus uses max_distance + 1 disjoint bands, which "
        "find every pair within max_distance).",
    )
    miss_rate: float = Field(
        1e-3,
        gt=0.0,
        lt=1.0,
        description="With wide bands, the chance that two hashes max_distance apart share no "
        "band (closer pairs are missed far less often); lower costs more bands per hash.",
    )
    cluster_floor: int | None = Field(
        None,
        ge=0,
        description="A picture is removed only if its distance to the one its cluster keeps is "
        "at most this; farther members are cut into sub-clusters. Empty: max_distance.",
    )
    floor_rounds: int = Field(
        4, ge=0, le=32, description="Rounds cutting sub-clusters (see near_dedup.floor_rounds)."
    )
    video_frames: int = Field(
        8, ge=1, description="Sampled frames (evenly spread) whose hashes sign a video."
    )
    audio_windows: int = Field(
        8,
        ge=1,
        description="Windows of log-mel frames (evenly spread) whose hashes sign an audio clip "
        "(transforms/media/fingerprint.py): the same clip as WAV, Ogg and MP3 sits 0-10 bits "
        "apart, different clips 14+ (benchmarks/real_audio.py).",
    )
    audio_window_seconds: float = Field(
        8.0, gt=0, description="Length of one audio window (a shorter clip is one window)."
    )
    max_rounds: int = Field(
        12, ge=1, le=64, description="Connected-components rounds (see near_dedup.max_rounds)."
    )

    @model_validator(mode="after")
    def _distance_fits(self) -> PerceptualDedupConfig:
        if self.max_distance >= self.hash_size**2:
            raise ValueError(
                f"max_distance ({self.max_distance}) must be below the hash's "
                f"{self.hash_size**2} bits"
            )
        return self

    def floor_distance(self) -> int:
        """The distance to its kept picture a removed one may have."""
        return self.max_distance if self.cluster_floor is None else self.cluster_floor


class MediaConfig(Section):
    image: ImageConfig = Field(default_factory=ImageConfig, description="Image sources.")
    audio: AudioConfig = Field(default_factory=AudioConfig, description="Audio sources.")
    video: VideoConfig = Field(default_factory=VideoConfig, description="Video sources.")
    perceptual_dedup: PerceptualDedupConfig = Field(
        default_factory=PerceptualDedupConfig,
        description="Near duplicates of images, videos and audio (within a source).",
    )
    exact_dedup: bool = Field(
        True, description="Drop media whose decoded pixels or samples are identical (per source)."
    )

    def layout(self, modalities: Iterable[str]) -> dict[str, int] | None:
        """The sizes records are cut with that the model's embedders must match, for the
        modalities a run has (video frames use the image patches and the audio frames),
        so the trainer refuses a mismatch before it builds anything; None for text only."""
        present = set(modalities)
        layout: dict[str, int] = {}
        if present & {"image", "video"}:
            layout |= {"patch_size": self.image.patch_size, "image_channels": IMAGE_CHANNELS}
        if present & {"audio", "video"}:
            layout |= {"n_mels": self.audio.n_mels, "frame_stack": self.audio.stack}
        return layout or None

    @model_validator(mode="before")
    @classmethod
    def _no_wall_clock_budget(cls, data: Any) -> Any:
        if isinstance(data, dict) and "decode_timeout_s" in data:
            raise ValueError(
                "decode_timeout_s was removed: a clock made the decision depend on the "
                "worker's load. Bound the work instead with video.max_decoded_frames, "
                "video.max_packets and audio.max_packets"
            )
        return data
