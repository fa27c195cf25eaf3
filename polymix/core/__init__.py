"""The contracts every other room imports: config schema, manifest, errors."""
