"""The GCS emulator fixture for the manifest tests that read a run through gs://."""

from tests.support.gcs_emulator import gcs  # noqa: F401
