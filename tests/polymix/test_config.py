import pytest
import yaml

from polymix.cli import main
from polymix.core.config import ConfigError, load_config, parse_config

SOURCE = {"name": "web", "modality": "text", "paths": ["*.jsonl"], "format": "jsonl"}


def test_init_writes_an_example_that_loads_and_documents_every_key(tmp_path):
    path = tmp_path / "my.yaml"
    assert main(["init", str(path)]) == 0
    config = load_config(path)
    assert [s.name for s in config.sources] == ["web", "books"]
    text = path.read_text()
    for section in ("read", "normalize", "exact_dedup", "tokenizer", "shards"):
        for key in getattr(config, section).model_fields:
            assert f"{key}:" in text, f"{section}.{key} is not documented"
    assert text.count("\n#") + text.count("  #") > 20  # comments, not just keys
    assert main(["init", str(path)]) == 2  # refuses to overwrite without --force


@pytest.mark.parametrize(
    "raw, named",
    [
        ({"sources": [{**SOURCE, "modality": "txt"}]}, "sources[0](web).modality"),
        ({"sources": [{**SOURCE, "wieght": 2}]}, "sources[0](web).wieght: unknown key"),
        ({"sources": [{**SOURCE, "weight": -1}]}, "sources[0](web).weight"),
        (
            {"sources": [{k: v for k, v in SOURCE.items() if k != "paths"}]},
            "sources[0](web).paths: Field required",
        ),
        ({"sources": [SOURCE], "shards": {"max_seq_len": "long"}}, "shards.max_seq_len"),
        ({"sources": []}, "sources"),
        ({"sources": [SOURCE], "eval": {"fraction": 1.0}}, "eval.fraction"),
        ({"sources": [SOURCE], "eval": {"fraction": -0.1}}, "eval.fraction"),
        ({"sources": [SOURCE], "eval": {"share": 0.1}}, "eval.share: unknown key"),
        ({"sources": [SOURCE, SOURCE]}, "unique"),
        ({"sources": [{**SOURCE, "name": "we b"}]}, "sources[0](we b).name"),
        ({"sources": [{**SOURCE, "format": "tsv"}]}, "sources[0](web).format"),
        ({"sources": [{**SOURCE, "format": "csv", "delimiter": "||"}]}, "(web).delimiter"),
        ({"sources": [{**SOURCE, "format": "csv", "delimiter": '"'}]}, "(web).delimiter"),
        ({"sources": [{**SOURCE, "format": "csv", "delimiter": "§"}]}, "(web).delimiter"),
        (
            {"sources": [{**SOURCE, "modality": "image", "format": "hf_arrow"}]},
            "image, audio and video sources read files, webdataset or parquet",
        ),
    ],
)
def test_bad_config_names_the_key_and_the_expectation(raw, named):
    with pytest.raises(ConfigError) as error:
        parse_config(raw)
    assert named in str(error.value)


def test_bad_yaml_and_missing_file_are_clear(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("sources: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")


def test_relative_paths_resolve_against_the_config_folder(tmp_path):
    path = tmp_path / "sub" / "c.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump({"sources": [SOURCE]}))
    config = load_config(path)
    assert config.resolve("data/*.jsonl") == str(tmp_path / "sub" / "data" / "*.jsonl")
    assert config.resolve("gs://bucket/x") == "gs://bucket/x"


def test_fingerprint_changes_with_settings_but_not_with_location():
    a = parse_config({"sources": [SOURCE]}, base_dir="/a")
    b = parse_config({"sources": [SOURCE]}, base_dir="/b")
    c = parse_config({"sources": [SOURCE], "seed": 1}, base_dir="/a")
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()


def test_a_config_read_from_a_bucket_resolves_its_relative_paths_there(tmp_path):
    text = yaml.safe_dump({"sources": [SOURCE], "tokenizer": {"model": "tok/spm.model"}})
    remote = load_config(
        "gs://bucket/corpus/c.yaml", {"gs://bucket/corpus/c.yaml": text.encode()}.get
    )
    assert remote.resolve("data/*.jsonl") == "gs://bucket/corpus/data/*.jsonl"
    assert remote.resolve("../models/m.bin") == "gs://bucket/models/m.bin"
    local = tmp_path / "c.yaml"
    local.write_text(text)
    assert load_config(local).fingerprint() == remote.fingerprint()

    def missing(path: str) -> bytes:
        raise FileNotFoundError(path)

    with pytest.raises(ConfigError, match="cannot be read"):
        load_config("gs://bucket/missing.yaml", missing)
