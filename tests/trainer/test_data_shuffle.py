import numpy as np
import pytest
from grain._src.python.dataset.transformations.mix import _dataset_and_key_of_next_element

from polymix.trainer.data.mixing import MixtureSchedule, Segment, select
from polymix.trainer.data.sources import epoch_permutation


@pytest.mark.parametrize("n", [1, 2, 3, 5, 16, 17, 1000, 4097])
def test_epoch_permutation_is_a_bijection_for_any_length(n):
    for epoch in range(3):
        out = epoch_permutation(np.arange(n), n, seed=11, epoch=epoch)
        assert sorted(out.tolist()) == list(range(n))


def test_epoch_permutation_is_a_pure_function_of_seed_epoch_and_index():
    n = 1000
    whole = epoch_permutation(np.arange(n), n, seed=3, epoch=2)
    # Any subset, in any order, maps as in the whole: what lets blocks be read alone.
    picks = np.array([999, 0, 500, 7, 7])
    assert epoch_permutation(picks, n, seed=3, epoch=2).tolist() == whole[picks].tolist()
    assert whole.tolist() != epoch_permutation(np.arange(n), n, seed=3, epoch=3).tolist()
    assert whole.tolist() != epoch_permutation(np.arange(n), n, seed=4, epoch=2).tolist()
    assert whole.tolist() != list(range(n)), "it shuffles"


def test_vectorised_mixing_matches_grains_formula():
    proportions = (10_000, 23_456, 31_234)
    k = np.arange(5_000)
    which, key = select(k, proportions)
    expected = [_dataset_and_key_of_next_element(int(i), proportions) for i in k]
    assert list(zip(which.tolist(), key.tolist(), strict=True)) == expected


def test_schedule_select_matches_its_per_index_lookup_across_segments():
    names = ["a", "b", "c", "d"]
    schedule = MixtureSchedule(
        names,
        [
            Segment(0, {"a": 10_000, "b": 23_456, "c": 31_234}, dict.fromkeys(names, 0)),
            Segment(500, {"b": 10_000, "d": 55_555}, {"a": 3, "b": 40, "c": 50, "d": 0}),
        ],
    )
    indices = np.arange(3_000)
    source, key = schedule.select(indices)
    assert list(zip(source.tolist(), key.tolist(), strict=True)) == [
        schedule[int(i)] for i in indices
    ]
