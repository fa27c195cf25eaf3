"""Images, audio and video: read, decode, filter, hash and encode into shard records.

Pure per-example functions like the rest of `polymix/transforms/` (no Beam, no JAX). Each
decoder turns every defect into a `MediaRejected(reason)` so the pipeline can count
it; nothing here may raise anything else on bad input, loop without a bound or
allocate more than the configured limits allow.

Settings come in as the `polymix.core.config.media` sections (duck-typed, like the text
filters), so this package does not import the config package.
"""
