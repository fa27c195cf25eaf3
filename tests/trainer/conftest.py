import pytest

from tests.trainer.data_fixture import Corpus, write_corpus


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """One small multimodal corpus shared by the loader tests (read-only)."""
    return write_corpus(tmp_path_factory.mktemp("corpus"))
