"""The JAX MoE decoder, one job per file.

config.py (presets, overrides) -> params.py (ParamInfo trees: init, axes, shapes) ->
layers.py, attention.py, moe.py, embed.py (the blocks) -> transformer.py (the stack,
forward, loss); sharding.py holds the logical-to-mesh table, counting.py the parameter
and FLOP counts, sample.py synthetic packed batches, batch.py the loader contract.
Importing this package imports nothing heavy: the loader imports `model.batch` alone.
"""
