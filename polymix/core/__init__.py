"""The contracts every other room imports: config schema and the frozen config base, the
manifest, the record format with its decoders and position count, errors."""
