"""Worker processes change the speed, never the batches (and resume still holds)."""

import json

from polymix.trainer.data import make_loader
from tests.trainer import data_fixture as F
from tests.trainer.test_data_loader import assert_same, take


def test_two_workers_give_the_batches_of_none_and_resume(corpus):
    reference = take(make_loader(corpus.manifest_path, **F.loader_kwargs()), 8)
    loader = make_loader(corpus.manifest_path, **F.loader_kwargs(worker_count=2))
    try:
        assert_same(take(loader, 4), reference[:4])
        state = json.loads(json.dumps(loader.get_state()))
    finally:
        loader.close()
    resumed = make_loader(corpus.manifest_path, **F.loader_kwargs(worker_count=2))
    try:
        resumed.set_state(state)
        assert_same(take(resumed, 4), reference[4:])
    finally:
        resumed.close()
