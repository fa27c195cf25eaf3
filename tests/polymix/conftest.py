"""The GCS emulator fixture for the tests that publish runs on gs://."""

from tests.support.gcs_emulator import gcs  # noqa: F401
