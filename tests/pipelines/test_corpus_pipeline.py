import filecmp
import gzip
import json
import shutil
from pathlib import Path

import pytest
from array_record.python.array_record_module import ArrayRecordReader

from polymix.cli import main
from polymix.core.config import load_config
from polymix.core.manifest import ManifestError, load_manifest, verify_manifest
from polymix.core.record_codec import decode
from polymix.core.record_layout import record_positions
from polymix.transforms.held_out import is_held_out
from tests.pipelines.conftest import run_pipeline
from tests.support.run_layout import data_root

BAD_INPUT_STAGES = ("read", "normalize", "extract", "url_filter")  # planted by the generator
FILTER_STAGES = ("language", "gopher_repetition", "gopher_quality", "c4", "fineweb", "pii", "code")
FILTER_STAGES += ("quality_classifier", "decontaminate")


def test_accounting_matches_what_the_generator_built(demo_run, sample_corpus):
    _, expected = sample_corpus
    manifest = load_manifest(demo_run / "manifest.json")
    assert set(manifest.sources) == set(expected["input"])
    for name, totals in manifest.sources.items():
        assert totals.input == expected["input"][name], name
        assert totals.input == totals.kept + totals.duplicates_total + totals.rejected_total
        near = totals.duplicates.pop("near_dedup", 0)
        assert totals.duplicates == expected["duplicates"].get(name, {}), name
        assert near >= 0.6 * expected["near_duplicates_planted"].get(name, 0), name
        rejected = {
            f"{s}/{r}": n for s, reasons in totals.rejected.items() for r, n in reasons.items()
        }
        if totals.modality in ("text", "code"):
            planted = {k: n for k, n in rejected.items() if k.split("/")[0] in BAD_INPUT_STAGES}
            assert planted == expected["rejected"].get(name, {}), name
            filtered = set(rejected) - set(planted)
            assert {k.split("/")[0] for k in filtered} <= set(FILTER_STAGES)
        else:  # every media rejection is planted by the generator
            assert rejected == expected["rejected"].get(name, {}), name
            assert totals.kept == expected["media_kept"][name], name
            held_out = totals.eval_records
            assert totals.records + held_out == expected["media_records"][name], name


def test_non_english_pages_are_detected_and_counted(demo_run, sample_corpus):
    _, expected = sample_corpus
    stats = json.loads((data_root(demo_run) / "stats.json").read_text())
    web = stats["languages"]["web"]
    for language, planted in expected["languages_planted"].items():
        assert sum(web[language].values()) == planted, language
    manifest = load_manifest(demo_run / "manifest.json")
    other = manifest.sources["web"].rejected["language"]["other_language"]
    assert other == sum(expected["languages_planted"].values())


def test_manifest_records_the_minhash_scheme(demo_run):
    scheme = load_manifest(demo_run / "manifest.json").minhash
    assert scheme["bands"] * scheme["rows"] <= scheme["num_perm"]
    assert {"hash_function", "seed", "library", "threshold"} <= set(scheme)


def test_manifest_records_the_media_layout_records_were_cut_with(demo_run, sample_corpus):
    config = load_config(sample_corpus[0])
    audio, image = config.media.audio, config.media.image
    assert load_manifest(demo_run / "manifest.json").media == {
        "patch_size": image.patch_size,
        "image_channels": 3,
        "n_mels": audio.n_mels,
        "frame_stack": audio.stack,
    }


def test_text_modifications_are_counted_not_rejected(demo_run):
    manifest = load_manifest(demo_run / "manifest.json")
    assert manifest.sources["web"].modified["c4"]["lines_removed"] > 0  # boilerplate lines cut
    assert manifest.sources["web"].balances()


def test_every_rejection_and_duplicate_is_on_disk_with_its_reason(demo_run):
    manifest = load_manifest(demo_run / "manifest.json")
    on_disk: dict[tuple, int] = {}
    for entry in manifest.side_files():
        with gzip.open(data_root(demo_run) / entry.path, "rt") as handle:
            for line in handle:
                row = json.loads(line)
                key = (row["source"], row["stage"], row.get("reason", "duplicate"))
                on_disk[key] = on_disk.get(key, 0) + 1
                if row["stage"] == "near_dedup":  # only the planted near copies are that close
                    assert row["id"].startswith("web-near-") and row["similarity"] > 0.7
                if "duplicate_of" in row:
                    assert row["duplicate_of"] and row["duplicate_of"] != row["id"]
                    if row["modality"] in ("text", "code"):
                        assert row["text"]  # the removed copy's content is kept, not just its id
                    assert "text" not in row["original"]  # the text travels once
    for name, totals in manifest.sources.items():
        for stage, reasons in totals.rejected.items():
            for reason, n in reasons.items():
                assert on_disk[(name, stage, reason)] == n
                assert (data_root(demo_run) / "rejected" / name / stage / reason).is_dir()
        for stage, n in totals.duplicates.items():
            assert on_disk[(name, stage, "duplicate")] == n


def test_shards_hold_decodable_records_within_the_sequence_length(demo_run):
    manifest = load_manifest(demo_run / "manifest.json")
    assert (
        manifest.tokenizer is not None and (data_root(demo_run) / manifest.tokenizer.path).is_file()
    )
    shards = [*manifest.shards(), *manifest.eval_shards()]
    assert {s.source for s in shards} == set(manifest.sources)
    for shard in shards:
        reader = ArrayRecordReader(str(data_root(demo_run) / shard.path))
        records = [decode(r) for r in reader.read_all()]
        reader.close()
        assert len(records) == shard.records
        positions = [
            len(r["tokens"]) if shard.modality in ("text", "code") else record_positions(r)
            for r in records
        ]
        assert sum(positions) == shard.tokens == sum(shard.positions.values())
        assert all(0 < n <= manifest.max_seq_len for n in positions)
        assert all(r.fields["source"] == shard.source for r in records)
    long_docs = [*manifest.shards("books"), *manifest.eval_shards("books")]
    assert sum(s.records for s in long_docs) > manifest.sources["books"].kept  # books were cut
    assert manifest.sources["images"].positions["image"] > 0
    assert manifest.sources["audio"].positions["audio"] > 0


def test_every_demo_source_holds_out_some_examples_by_id(demo_run, sample_corpus):
    _, expected = sample_corpus
    manifest = load_manifest(demo_run / "manifest.json")
    split = expected["eval"]
    for name, totals in manifest.sources.items():
        assert totals.eval_records > 0 and totals.eval_tokens > 0, name
        held = list(manifest.eval_shards(name))
        assert sum(s.records for s in held) == totals.eval_records, name
        assert all(s.path.startswith(f"eval/{name}/") for s in held), name
        for shard in held:
            reader = ArrayRecordReader(str(data_root(demo_run) / shard.path))
            ids = {decode(r).fields["doc_id"] for r in reader.read_all()}
            reader.close()
            assert all(is_held_out(name, i, split["fraction"], split["salt"]) for i in ids)


def test_verify_passes_and_then_names_a_truncated_or_altered_shard(demo_run, tmp_path):
    assert main(["verify", str(demo_run / "manifest.json")]) == 0
    copy = tmp_path / "copy"
    shutil.copytree(demo_run, copy)
    second = list(load_manifest(copy / "manifest.json").shards())[1]
    victim = data_root(copy) / second.path
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2])
    with pytest.raises(ManifestError, match=second.path):
        verify_manifest(copy / "manifest.json")
    altered = bytearray(data)
    altered[len(altered) // 2] ^= 0xFF
    victim.write_bytes(bytes(altered))
    with pytest.raises(ManifestError, match=f"{second.path}: sha256"):
        verify_manifest(copy / "manifest.json")
    assert main(["verify", str(copy / "manifest.json")]) == 1


def _data_files(root: Path) -> list[Path]:
    """Everything but the report, whose title names the output folder."""
    return sorted(
        p.relative_to(root) for p in root.rglob("*") if p.is_file() and "report" not in p.parts
    )


def _same_tree(a: Path, b: Path) -> None:
    files_a, files_b = _data_files(a), _data_files(b)
    assert files_a == files_b
    mismatch = filecmp.cmpfiles(a, b, [str(p) for p in files_a], shallow=False)[1]
    assert mismatch == []


@pytest.mark.slow  # a second whole run: ~1 min
def test_rerun_gives_byte_identical_output(demo_run, sample_corpus, tmp_path):
    config, _ = sample_corpus
    run_pipeline(config, tmp_path / "again")
    _same_tree(demo_run, tmp_path / "again")


@pytest.mark.slow  # two worker processes on two cores: ~2.5 min
def test_two_worker_processes_give_byte_identical_output(demo_run, sample_corpus, tmp_path):
    config, _ = sample_corpus
    run_pipeline(
        config, tmp_path / "mp", "--direct_num_workers=2", "--direct_running_mode=multi_processing"
    )
    _same_tree(demo_run, tmp_path / "mp")
