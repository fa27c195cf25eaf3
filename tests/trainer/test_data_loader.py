"""Determinism, resume, host sharding, checksums and the orbax handler."""

import hashlib
import json
import shutil

import grain
import numpy as np
import orbax.checkpoint as ocp
import pytest

from polymix.core.manifest import ManifestError
from polymix.trainer.data import (
    LoaderCheckpointHandler,
    LoaderRestore,
    LoaderSave,
    make_dataset,
    make_loader,
)
from polymix.trainer.data.layout import Layout
from polymix.trainer.data.sources import shards_by_source, source_dataset
from tests.support.manifest_edit import edit_shard_entries
from tests.trainer import data_fixture as F


def first_shard(corpus):
    return next(corpus.manifest.shards())


def take(loader, n):
    return [next(loader) for _ in range(n)]


def assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x.keys() == y.keys()
        for key in x:
            np.testing.assert_array_equal(x[key], y[key], err_msg=key)


def test_same_arguments_same_batches_other_seed_other_batches(corpus):
    first = take(make_loader(corpus.manifest_path, **F.loader_kwargs()), 8)
    assert_same(first, take(make_loader(corpus.manifest_path, **F.loader_kwargs()), 8))
    other = take(make_loader(corpus.manifest_path, **F.loader_kwargs(seed=8)), 1)[0]
    assert not np.array_equal(other["tokens"], first[0]["tokens"])


def test_resume_from_state_gives_the_uninterrupted_batches(corpus):
    reference = take(make_loader(corpus.manifest_path, **F.loader_kwargs()), 12)
    loader = make_loader(corpus.manifest_path, **F.loader_kwargs())
    take(loader, 5)
    state = json.loads(json.dumps(loader.get_state()))  # what a checkpoint stores
    resumed = make_loader(corpus.manifest_path, **F.loader_kwargs())
    resumed.set_state(state)
    assert_same(take(resumed, 7), reference[5:])


def test_grains_checkpoint_helper(corpus):
    ds = make_dataset(corpus.manifest_path, **F.loader_kwargs(global_batch_size=2))
    grain.experimental.assert_equal_output_after_checkpoint(
        grain.experimental.LimitIterDataset(ds, 6)
    )


def test_state_from_other_settings_is_refused(corpus):
    state = make_loader(corpus.manifest_path, **F.loader_kwargs()).get_state()
    other = make_loader(corpus.manifest_path, **F.loader_kwargs(global_batch_size=4))
    with pytest.raises(ValueError, match="global_batch_size"):
        other.set_state(state)


def _uid(element) -> int:
    tokens = element["seq"][:, 0]
    return int(tokens[tokens >= F.BAND][0])


def _stream(corpus, source, process_index=0, process_count=1):
    layout = Layout(seq_len=64, patch_dim=F.PATCH_DIM, n_mels=F.N_MELS, audio_stack=F.STACK)
    return source_dataset(
        source,
        shards_by_source(corpus.manifest)[source],
        root=corpus.manifest_path.parent,
        layout=layout,
        seed=7,
        process_index=process_index,
        process_count=process_count,
        verify=False,
    )


def test_hosts_take_turns_on_each_source_and_together_read_it_once(corpus):
    """Host h of 4 reads keys h, h+4, ... of every source's whole shuffled stream: within
    an epoch the hosts' records are disjoint and together they are the epoch."""
    web = corpus.manifest.sources["web"].records
    stream = _stream(corpus, "web")
    epoch = [_uid(stream[i]) for i in range(web)]
    assert len(set(epoch)) == web
    for host in range(4):
        turn = set(epoch[host::4])
        loader = make_loader(
            corpus.manifest_path,
            **F.loader_kwargs(process_index=host, process_count=4, mixture={"web": 1.0}),
        )
        seen = [uid for _ in range(3) for *_, uid in F.segments(next(loader), corpus)]
        assert len(seen) >= 8 and set(seen) <= turn, "the loader reads this host's turns"


def test_a_source_smaller_than_the_host_count_feeds_every_host(tmp_path):
    """3 records of `rare` and 8 hosts: every host starts and packs `rare` at its share."""
    sources = (
        F.SourceSpec("web", "text", 200, band=1, weight=0.7, max_text=40),
        F.SourceSpec("rare", "text", 3, band=2, weight=0.3, shards=1, max_text=40),
    )
    small = F.write_corpus(tmp_path, sources)
    for host in range(8):
        loader = make_loader(
            small.manifest_path, **F.loader_kwargs(process_index=host, process_count=8)
        )
        names = [src for _ in range(4) for *_, src, _ in F.segments(next(loader), small)]
        share = names.count("rare") / len(names)
        assert 0.1 < share < 0.6, (host, share)


def test_new_weights_on_resume_continue_each_source_where_it_stopped(corpus):
    loader = make_loader(corpus.manifest_path, **F.loader_kwargs())
    batches = take(loader, 6)
    state = loader.get_state()
    new_mix = {"web": 0.2, "books": 0.6, "photos": 0.2}  # speech dropped; all within an epoch
    resumed = make_loader(corpus.manifest_path, **F.loader_kwargs(mixture=new_mix))
    resumed.set_state(state)
    batches += take(resumed, 6)
    starts = [s["start"] for s in resumed.schedule.to_json()]
    assert starts == [0, state["pipeline"]["fresh_record"]]
    seen: dict[str, set[int]] = {}
    for batch in batches:
        for *_, source, uid in F.segments(batch, corpus):
            assert uid not in seen.setdefault(source, set()), f"{source} record {uid} read twice"
            seen[source].add(uid)
    # No skips: each source gave the first records of its own shuffled stream (a block's
    # rows are in first-fit order, so the records of a part-emitted block may be out of order).
    slack = F.loader_kwargs()["read_block"]
    for source, uids in seen.items():
        stream = _stream(corpus, source)
        assert uids <= {_uid(stream[i]) for i in range(len(uids) + slack)}, source


def test_checksum_mismatch_fails_naming_the_shard(corpus, tmp_path):
    copy = tmp_path / "corpus"
    shutil.copytree(corpus.manifest_path.parent, copy)
    bad = copy / first_shard(corpus).path
    data = bytearray(bad.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    loader = make_loader(copy / "manifest.json", **F.loader_kwargs())
    with pytest.raises(ManifestError, match=first_shard(corpus).path):
        take(loader, 20)


def test_building_opens_no_shard_and_a_missing_one_is_named_on_first_read(corpus, tmp_path):
    copy = tmp_path / "corpus"
    shutil.copytree(corpus.manifest_path.parent, copy)
    for shard in corpus.manifest.shards():
        (copy / shard.path).unlink()
    loader = make_loader(copy / "manifest.json", **F.loader_kwargs())  # counts from the manifest
    with pytest.raises(ManifestError, match=r"shard shards/.*: missing"):
        next(loader)


@pytest.mark.parametrize("verify", [True, False])
def test_a_checksum_matching_shard_that_is_not_array_record_is_named(corpus, tmp_path, verify):
    copy = tmp_path / "corpus"
    shutil.copytree(corpus.manifest_path.parent, copy)
    junk = b"\x00" * 70_000
    victim: list[str] = []

    def replace(entries):
        victim.append(entries[0]["path"])
        (copy / entries[0]["path"]).write_bytes(junk)
        entries[0].update(bytes=len(junk), sha256=hashlib.sha256(junk).hexdigest())
        return entries

    edit_shard_entries(copy, replace)
    loader = make_loader(copy / "manifest.json", **F.loader_kwargs(verify_checksums=verify))
    with pytest.raises(ManifestError, match=f"{victim[0]}: not a readable ArrayRecord file"):
        take(loader, 40)


def test_manifest_without_marker_ids_uses_the_tokenizers_reserved_ones(corpus, tmp_path):
    bare = F.write_corpus(tmp_path / "bare", with_specials=False)
    assert_same(
        take(make_loader(bare.manifest_path, **F.loader_kwargs()), 3),
        take(make_loader(corpus.manifest_path, **F.loader_kwargs()), 3),
    )


def test_orbax_checkpoint_manager_saves_and_restores_the_loader(corpus, tmp_path):
    reference = take(make_loader(corpus.manifest_path, **F.loader_kwargs()), 6)
    loader = make_loader(corpus.manifest_path, **F.loader_kwargs())
    take(loader, 3)
    with ocp.CheckpointManager(
        tmp_path / "ckpt", item_handlers={"loader": LoaderCheckpointHandler()}
    ) as mngr:
        mngr.save(3, args=ocp.args.Composite(loader=LoaderSave(loader)))
        mngr.wait_until_finished()
        resumed = make_loader(corpus.manifest_path, **F.loader_kwargs())
        mngr.restore(3, args=ocp.args.Composite(loader=LoaderRestore(resumed)))
    assert_same(take(resumed, 3), reference[3:])
