"""Workers get their models from the job or from gs://, never from the launcher's disk."""

import pickle
import shutil

import pytest
import yaml

from polymix.cli import main
from polymix.pipelines import object_store
from polymix.pipelines.file_io import write_bytes
from polymix.pipelines.model_files import (
    ModelUnavailable,
    Placement,
    local_copy,
    stage_model,
)
from polymix.transforms.filters import fasttext_models
from tests.support.gcs_emulator import BUCKET

DATAFLOW = Placement(shared_disk=False, temp_location=None, dry_run=False)


def test_lid_176_travels_with_the_job_and_loads_where_the_launcher_path_is_gone(tmp_path):
    launcher_copy = tmp_path / "lid.176.ftz"
    shutil.copy(fasttext_models.lid_model_path(), launcher_copy)
    staged = stage_model("filters.language.model_path", str(launcher_copy), DATAFLOW)
    shipped = pickle.loads(pickle.dumps(staged))  # what a worker unpickles
    launcher_copy.unlink()  # a Dataflow worker has no such file
    model = fasttext_models.load(local_copy(shipped))
    assert fasttext_models.predict(model, "the cat sat on the mat and looked around")[0][0] == "en"
    assert str(launcher_copy) not in repr(shipped.uri)


def test_a_large_local_model_is_copied_next_to_the_temp_location(gcs, tmp_path):
    big = tmp_path / "quality.bin"
    big.write_bytes(b"x" * (5 * 2**20))
    temp = f"gs://{BUCKET}/models-tmp"
    staged = stage_model(
        "filters.quality_classifier.model_path",
        str(big),
        DATAFLOW.__class__(shared_disk=False, temp_location=temp, dry_run=False),
    )
    assert staged.uri.startswith(f"{temp}/polymix-models/{staged.sha256}/")
    big.unlink()
    with open(local_copy(staged), "rb") as copied:
        assert copied.read() == b"x" * (5 * 2**20)


def test_a_large_local_model_without_a_temp_location_is_refused(tmp_path):
    big = tmp_path / "quality.bin"
    big.write_bytes(b"x" * (5 * 2**20))
    with pytest.raises(ModelUnavailable, match="workers cannot read"):
        stage_model("filters.quality_classifier.model_path", str(big), DATAFLOW)
    shared = Placement(shared_disk=True, temp_location=None, dry_run=False)
    assert stage_model("k", str(big), shared).uri == str(big)


def test_a_gs_model_is_read_by_workers_through_beam(gcs, tmp_path):
    path = f"gs://{BUCKET}/models/lid.176.ftz"
    with open(fasttext_models.lid_model_path(), "rb") as f:
        write_bytes(path, f.read())
    staged = stage_model("filters.language.model_path", path, DATAFLOW)
    assert staged.data is None and staged.uri == path
    model = fasttext_models.load(local_copy(staged))
    assert fasttext_models.predict(model, "der Hund schläft im Garten und träumt")[0][0] == "de"
    with pytest.raises(ModelUnavailable, match="does not exist"):
        stage_model("filters.language.model_path", f"gs://{BUCKET}/models/none.ftz", DATAFLOW)


@pytest.mark.slow  # Dataflow dry runs: ~30 s
def test_dry_run_fails_in_one_line_when_workers_would_not_find_a_model(
    sample_corpus, tmp_path, capsys, gcs
):
    config_path, _ = sample_corpus
    root = tmp_path / "corpus"
    shutil.copytree(config_path.parent, root)
    raw = yaml.safe_load((root / "polymix.yaml").read_text())
    raw["filters"]["language"] = {"model_path": f"gs://{BUCKET}/models/missing.ftz"}
    (root / "polymix.yaml").write_text(yaml.safe_dump(raw))
    args = ["run", str(root / "polymix.yaml"), "--output", str(tmp_path / "out"), "--dry-run"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "missing.ftz" in err and "filters.language" in err
    raw["filters"]["language"] = {}  # lid.176 travels inline, the 17 MB classifier is copied
    (root / "polymix.yaml").write_text(yaml.safe_dump(raw))
    temp = f"gs://{BUCKET}/dry-run-tmp"
    dataflow = ["--runner=DataflowRunner", "--project=polymix-test", "--region=us-central1"]
    assert main([*args, *dataflow, f"--temp_location={temp}"]) == 0
    assert object_store.list_files(temp) == []  # a dry run stages nothing
