"""Worked examples of the mixture planner: every number here can be checked by hand."""

import random

import pytest

from polymix.core.config.mixture import MixtureConfig
from polymix.core.mixture import MixtureError, Supply, plan_mixture, supply_from_totals, water_fill


def text(weight: float, tokens: int, modality: str = "text") -> Supply:
    return Supply(modality, weight, {"text" if modality in ("text", "code") else modality: tokens})


def test_targets_are_kept_when_no_source_hits_its_cap():
    plan = plan_mixture(
        {"web": text(0.7, 1000), "books": text(0.3, 500)}, MixtureConfig(budget_tokens=1000)
    )
    assert plan.weights() == pytest.approx({"books": 0.3, "web": 0.7})
    assert plan.sources["web"].epochs == pytest.approx(0.7)
    assert plan.sources["books"].epochs == pytest.approx(0.6)
    assert not any(p.capped for p in plan.sources.values())


def test_a_small_source_is_capped_and_the_rest_goes_to_the_others_by_weight():
    # books would need 0.3 * 2000 = 600 positions = 6 epochs of 100; capped at 4 -> 400.
    # The other 1600 split web:code = 0.5:0.2 -> 1142.857 and 457.143.
    plan = plan_mixture(
        {"web": text(0.5, 1000), "books": text(0.3, 100), "code": text(0.2, 400, "code")},
        MixtureConfig(budget_tokens=2000, max_epochs=4),
    )
    assert plan.weights() == pytest.approx({"books": 0.2, "code": 0.8 / 3.5, "web": 2 / 3.5})
    assert plan.sources["books"].epochs == pytest.approx(4)
    assert plan.sources["books"].capped and not plan.sources["web"].capped
    assert plan.sources["web"].planned_positions == pytest.approx(1600 * 5 / 7)
    assert plan.sources["books"].target_weight == pytest.approx(0.3)


def test_redistribution_cascades_when_it_pushes_another_source_over_its_cap():
    # Round 1: books (0.3 * 5000 = 1500 > 2 x 100) capped at 200.
    # Round 2: 4800 split web:code 4:3 gives code 2057 > 2 x 1000, so code is capped at 2000.
    # Web takes the remaining 2800.
    plan = plan_mixture(
        {"web": text(0.4, 10_000), "books": text(0.3, 100), "code": text(0.3, 1000)},
        MixtureConfig(budget_tokens=5000, max_epochs=2),
    )
    assert {n: p.planned_positions for n, p in plan.sources.items()} == pytest.approx(
        {"books": 200, "code": 2000, "web": 2800}
    )
    assert [n for n, p in plan.sources.items() if p.capped] == ["books", "code"]


def test_a_per_source_cap_overrides_the_default():
    plan = plan_mixture(
        {"web": text(0.5, 1000), "books": text(0.5, 100)},
        MixtureConfig(budget_tokens=1000, max_epochs=1, max_epochs_per_source={"books": 5}),
    )
    assert plan.sources["books"].epochs == pytest.approx(5)
    assert plan.sources["web"].epochs == pytest.approx(0.5)
    assert plan.weights() == pytest.approx({"books": 0.5, "web": 0.5})


def test_modality_weights_split_the_budget_first_by_group_then_by_source():
    # image wants 0.2 * 1000 = 200 patches but has 40 x 4 epochs = 160: text gets 840.
    plan = plan_mixture(
        {
            "web": text(1, 1000),
            "books": text(1, 1000),
            "photos": Supply("image", 1, {"image": 40}),
        },
        MixtureConfig(budget_tokens=1000, modality_weights={"text": 0.8, "image": 0.2}),
    )
    assert plan.weights() == pytest.approx({"books": 0.42, "photos": 0.16, "web": 0.42})
    assert plan.sources["web"].target_weight == pytest.approx(0.4)
    assert plan.modalities["image"].target_weight == pytest.approx(0.2)
    assert plan.modalities["image"].planned_weight == pytest.approx(0.16)
    assert plan.modalities["image"].capped
    assert plan.position_kinds["image"]["planned"] == pytest.approx(0.16)


def test_video_positions_are_split_by_kind_in_the_plan():
    plan = plan_mixture(
        {"web": text(1, 600), "clips": Supply("video", 1, {"image": 300, "audio": 100})},
        MixtureConfig(),
    )
    assert plan.budget == 1000 and plan.budget_from == "kept"
    assert plan.sources["clips"].epochs == pytest.approx(500 / 400)
    assert plan.position_kinds["image"]["planned"] == pytest.approx(0.5 * 300 / 400)
    assert plan.position_kinds["audio"]["available"] == pytest.approx(0.1)
    assert sum(k["planned"] for k in plan.position_kinds.values()) == pytest.approx(1)


def test_a_budget_beyond_every_cap_is_a_clear_error():
    with pytest.raises(
        MixtureError, match=r"budget of 9,000 positions .* \(8,000 = .*budget_tokens"
    ):
        plan_mixture(
            {"web": text(0.5, 1000), "books": text(0.5, 1000)},
            MixtureConfig(budget_tokens=9000, max_epochs=4),
        )


def test_without_redistribution_a_capped_source_is_an_error_naming_it():
    with pytest.raises(MixtureError, match=r"books would need 6.00 epochs"):
        plan_mixture(
            {"web": text(0.5, 1000), "books": text(0.3, 100), "code": text(0.2, 400)},
            MixtureConfig(budget_tokens=2000, redistribute=False),
        )


def test_configuration_mistakes_name_the_key():
    supply = {"web": text(1, 10), "photos": Supply("image", 1, {"image": 5})}
    with pytest.raises(MixtureError, match=r"max_epochs_per_source names unknown .*'bokks'"):
        plan_mixture(supply, MixtureConfig(max_epochs_per_source={"bokks": 2}))
    with pytest.raises(
        MixtureError, match=r"modality_weights has no entry for modality \['image'\]"
    ):
        plan_mixture(supply, MixtureConfig(modality_weights={"text": 1}))
    with pytest.raises(MixtureError, match="every source has weight 0"):
        plan_mixture({"web": text(0, 10)}, MixtureConfig())


def test_a_source_that_kept_nothing_gives_its_share_to_the_others_with_a_warning():
    plan = plan_mixture({"web": text(1, 100), "empty": text(1, 0)}, MixtureConfig())
    assert plan.weights() == {"empty": 0.0, "web": 1.0}
    assert plan.sources["empty"].epochs == 0
    assert any("empty kept no positions" in w for w in plan.warnings)


def test_random_plans_sum_to_one_respect_caps_and_keep_ratios_of_uncapped_sources():
    rng = random.Random(3)
    for _ in range(300):
        supply = {
            f"s{i}": text(rng.choice([0, 0.1, 1, 5]), rng.randint(0, 10_000)) for i in range(5)
        }
        if not any(s.weight > 0 and s.total for s in supply.values()):
            continue
        config = MixtureConfig(max_epochs=rng.choice([0.5, 1, 4]))
        capacity = sum(s.total * config.max_epochs for s in supply.values() if s.weight > 0)
        budget = rng.randint(1, int(capacity * 1.2) + 1)
        config = config.model_copy(update={"budget_tokens": budget})
        if budget > capacity:
            with pytest.raises(MixtureError):
                plan_mixture(supply, config)
            continue
        plan = plan_mixture(supply, config)
        assert sum(plan.weights().values()) == pytest.approx(1)
        free = [p for p in plan.sources.values() if not p.capped and p.target_weight > 0]
        for p in plan.sources.values():
            assert p.epochs <= p.max_epochs * (1 + 1e-9)
            if p.target_weight == 0:
                assert p.planned_weight == 0
        ratios = [p.planned_weight / p.target_weight for p in free]
        assert ratios == pytest.approx([ratios[0]] * len(ratios)) if ratios else True
        assert all(r >= 1 - 1e-9 for r in ratios)  # redistribution only ever adds


def test_water_fill_is_exact_on_a_two_key_example():
    alloc, capped = water_fill(10, {"a": 1, "b": 1}, {"a": 2, "b": 100})
    assert alloc == {"a": 2, "b": 8} and capped == {"a"}


def test_supply_from_manifest_totals_counts_tokens_as_the_modality_kind():
    class Totals:
        def __init__(self, modality, weight, tokens):
            self.modality, self.weight, self.tokens = modality, weight, tokens

    supply = supply_from_totals({"web": Totals("text", 2, 50), "code": Totals("code", 1, 7)})
    assert supply["code"] == Supply("code", 1, {"text": 7})
    assert supply["web"].total == 50


def test_names_are_checked_at_launch_before_any_data_exists():
    from polymix.core.mixture import check_mixture_config

    sources = {"web": "text", "photos": "image"}
    check_mixture_config(MixtureConfig(max_epochs_per_source={"web": 2}), sources)
    with pytest.raises(MixtureError, match="unknown source"):
        check_mixture_config(MixtureConfig(max_epochs_per_source={"wbe": 2}), sources)
    with pytest.raises(MixtureError, match=r"no entry for modality \['image'\]"):
        check_mixture_config(MixtureConfig(modality_weights={"text": 1}), sources)
