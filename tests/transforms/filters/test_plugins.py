"""User stages are built where stages are built, from a path or an entry point, in one clear line."""

from __future__ import annotations

import sys

import pytest

from polymix.core.config.filters import FiltersConfig
from polymix.core.errors import UserFacingError
from polymix.transforms.filters import build_stages, run_stages
from tests.support.user_stages import MODULE, user_stages_on_path


@pytest.fixture
def user_folder(tmp_path):
    with user_stages_on_path(tmp_path / "user") as folder:
        yield folder


def _filters(stages: list[str], plugins: dict | None = None) -> FiltersConfig:
    return FiltersConfig.model_validate(
        {"plugins": plugins or {}, "stages": {"text": stages, "code": []}}
    )


SHOUTING = {"shouting": {"class": f"{MODULE}:Shouting", "options": {"max_upper_ratio": 0.25}}}


def test_a_class_named_by_import_path_runs_with_its_options(user_folder):
    stages = build_stages(_filters(["shouting", "c4"], SHOUTING), "text")
    assert [s.name for s in stages] == ["shouting", "c4"]
    assert stages[0].cuts[0].threshold == 0.25  # options reached the constructor
    verdict = run_stages(stages, "Mostly QUIET words here, AND SOME LOUD ONES.")
    assert (verdict.stage, verdict.reason) == ("shouting", "too_loud")
    assert verdict.attributes["shouting"]["upper_ratio"] == pytest.approx(21 / 35)


def test_a_name_that_is_neither_built_in_nor_configured_comes_from_an_entry_point(user_folder):
    (stage,) = build_stages(_filters(["quiet"]), "text")
    assert type(stage).__module__ == MODULE and stage.name == "quiet"
    assert run_stages([stage], "a line XYZZY").reason == "marked"


def test_validating_a_config_never_imports_the_users_class(user_folder):
    (user_folder / f"{MODULE}.py").write_text("raise RuntimeError('imported')\n")
    filters = _filters(["shouting", "quiet"], SHOUTING)  # both names accepted
    assert MODULE not in sys.modules
    with pytest.raises(UserFacingError) as caught:
        build_stages(filters, "text")
    message = str(caught.value)
    assert message == (
        f"filters.plugins.shouting.class: cannot import {MODULE}:Shouting (RuntimeError: imported)"
    )


@pytest.mark.parametrize(
    ("plugin", "message"),
    [
        (
            {"class": "no_such_module_here:Stage"},
            "filters.plugins.shouting.class: cannot import no_such_module_here:Stage "
            "(ModuleNotFoundError: No module named 'no_such_module_here')",
        ),
        (
            {"class": f"{MODULE}:Missing"},
            f"filters.plugins.shouting.class: cannot import {MODULE}:Missing "
            f"(AttributeError: module '{MODULE}' has no attribute 'Missing')",
        ),
        (
            {"class": f"{MODULE}:NoDecide"},
            f"filters.plugins.shouting.class: {MODULE}:NoDecide is not a polymix Stage: "
            "it lacks decide",
        ),
        (
            {"class": f"{MODULE}:Quiet"},
            f"filters.plugins.shouting.class: {MODULE}:Quiet calls itself 'quiet' but is "
            "configured as 'shouting'; use one name (it is the stage's folder under rejected/)",
        ),
        (
            {"class": f"{MODULE}:Shouting", "options": {"loudness": 3}},
            f"filters.plugins.shouting.options: {MODULE}:Shouting does not take them",
        ),
    ],
)
def test_each_way_a_user_stage_cannot_be_built_is_one_line(user_folder, plugin, message):
    with pytest.raises(UserFacingError) as caught:
        build_stages(_filters(["shouting"], {"shouting": plugin}), "text")
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_a_plugin_without_a_class_needs_an_entry_point_of_its_name(user_folder):
    filters = _filters(["quiet", "loud"], {"loud": {"options": {"x": 1}}})
    with pytest.raises(UserFacingError, match="^stage 'loud': no class in filters.plugins.loud"):
        build_stages(filters, "text")


def test_a_name_two_installed_packages_register_is_refused(user_folder):
    other = user_folder / "other_filters-2.0.dist-info"
    other.mkdir()
    (other / "METADATA").write_text("Metadata-Version: 2.1\nName: other-filters\nVersion: 2.0\n")
    (other / "entry_points.txt").write_text("[polymix.stages]\nquiet = other_filters:Quiet\n")
    with pytest.raises(UserFacingError) as caught:
        build_stages(_filters(["quiet"]), "text")
    assert str(caught.value) == (
        "stage 'quiet' (entry point polymix.stages): installed packages register it as "
        f"{MODULE}:Quiet and other_filters:Quiet; name one in filters.plugins.quiet.class"
    )
