"""Genome-wide pretraining corpus: the 2-bit index, segment provenance, held-out validation."""

from __future__ import annotations

import gzip
import json
import os
import re

import numpy as np
import pytest

from genemask_viz.errors import GeneMaskInputError
from genemask_viz.sequences import SegmentSpec
from genemask_viz.sequences.genome_index import index_genome
from genemask_viz.sequences.segments import GenomeIntervals, sample_segments, split_genome

SPEC = SegmentSpec(max_len=60, min_len=6)


def make_genome(seed=0, n_records=12):
    """Records of very different lengths, soft-masked stretches and N runs."""
    rng = np.random.default_rng(seed)
    records = []
    for r in range(n_records):
        length = int(rng.integers(500, 12_000)) if r else 30_000  # one big record
        seq = np.array(list("ACGT"))[rng.integers(0, 4, length)]
        for _ in range(int(rng.integers(0, 4))):  # N runs, IUPAC codes
            a = int(rng.integers(0, length - 50))
            seq[a:a + int(rng.integers(1, 40))] = "N"
        if length > 100:
            seq[10:30] = np.char.lower(seq[10:30])
            seq[-7] = "R"
        records.append((f"chr{r + 1}", "".join(seq)))
    return records


def write_fasta(path, records, width=61, gz=False):
    text = "".join(f">{name} some description\n"
                   + "".join(seq[i:i + width] + "\n" for i in range(0, len(seq), width))
                   for name, seq in records)
    if gz:
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return path


def reference_runs(records):
    """Slow, obviously right: ACGT runs per record by regular expression, global coordinates."""
    out, base = [], 0
    for r, (_, seq) in enumerate(records):
        out += [(r, base + m.start(), base + m.end()) for m in re.finditer("[ACGTacgt]+", seq)]
        base += len(seq)
    return np.array(out)


@pytest.fixture(scope="module")
def genome(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("genome")
    records = make_genome()
    index = index_genome(write_fasta(tmp / "g.fa", records), cache_dir=tmp / "cache")
    return records, index, tmp


def test_index_matches_a_reference_and_reads_the_bases(genome):
    records, index, tmp = genome
    assert index.names == [name for name, _ in records]
    assert index.lengths.tolist() == [len(s) for _, s in records]
    ref = reference_runs(records)
    got = np.stack((index.run_record, index.run_start, index.run_end), axis=1)
    np.testing.assert_array_equal(got, ref)
    text = "".join(s for _, s in records).upper()
    rng = np.random.default_rng(1)
    for r in rng.choice(len(ref), 40):
        a, b = int(ref[r, 1]), int(ref[r, 2])
        s = int(rng.integers(a, b))
        e = int(rng.integers(s, b + 1))
        assert "".join("ATCG"[c] for c in index.read(s, e - s)) == text[s:e]
    # gzip, other line widths, several files: the same genome
    gz = index_genome(write_fasta(tmp / "g.fa.gz", records, width=80, gz=True), cache_dir=tmp / "c2")
    assert gz.folder != index.folder
    np.testing.assert_array_equal(np.asarray(gz.packed), np.asarray(index.packed))
    two = index_genome([write_fasta(tmp / "a.fa", records[:5]), write_fasta(tmp / "b.fa", records[5:])],
                       cache_dir=tmp / "c3")
    assert two.names == index.names
    np.testing.assert_array_equal(two.run_start, index.run_start)
    # cached: the same folder again; a changed file gets a new one
    assert index_genome(tmp / "g.fa", cache_dir=tmp / "cache").folder == index.folder
    write_fasta(tmp / "g.fa", records[:3])
    os.utime(tmp / "g.fa", ns=(1, 1))
    assert index_genome(tmp / "g.fa", cache_dir=tmp / "cache").names == index.names[:3]


def test_segments_come_from_every_record_in_proportion_and_are_real_genome(genome):
    records, index, _ = genome
    whole = GenomeIntervals(index.run_start, index.run_end, index.run_record)
    n = 20_000
    start, length, record = sample_segments(whole, n, seed=3, spec=SPEC)
    counts = np.bincount(record, minlength=len(records))
    # expected share: usable start positions of each record (ACGT bases of runs >= min_len)
    runs = reference_runs(records)
    usable = np.bincount(runs[:, 0], weights=np.where(runs[:, 2] - runs[:, 1] >= 6,
                                                      runs[:, 2] - runs[:, 1], 0))
    expected = n * usable / usable.sum()
    assert (counts > 0).all()
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 45, (chi2, counts, expected.round())  # 11 dof: p ~ 1e-6
    # no segment crosses an N or a record end; each is the genome's text at its coordinate
    assert length.min() >= 6 and length.max() == 60
    run = np.searchsorted(runs[:, 1], start, side="right") - 1
    assert (start + length <= runs[run, 2]).all() and (runs[run, 0] == record).all()
    text = "".join(s for _, s in records).upper()
    for i in range(0, n, 997):
        seg = "".join("ATCG"[c] for c in index.read(int(start[i]), int(length[i])))
        assert seg == text[start[i]:start[i] + length[i]] and "N" not in seg
    # the spec's lengths: half full length (a little less: cut at run ends), else uniform
    assert 0.45 < np.mean(length == 60) < 0.52
    assert abs(np.mean(length[length < 60]) - 33) < 1.5
    # deterministic; more segments extend the list; another seed differs
    again = sample_segments(whole, 5_000, seed=3, spec=SPEC)
    np.testing.assert_array_equal(again[0], start[:5_000])
    assert not np.array_equal(sample_segments(whole, 5_000, seed=4, spec=SPEC)[0], start[:5_000])


def covered(parts, total):
    mask = np.zeros(total, dtype=bool)
    for s, e in zip(parts.start, parts.end):
        mask[s:e] = True
    return mask


def test_validation_is_held_out_and_never_overlaps_training(genome):
    records, index, _ = genome
    total = int(index.lengths.sum())
    train, val, desc = split_genome(index, val_records="chr3,chr5")
    assert desc["mode"] == "records" and set(val.record) == {2, 4} and not {2, 4} & set(train.record)
    t_start, t_len, t_rec = sample_segments(train, 5_000, seed=0, spec=SPEC)
    assert not {2, 4} & set(t_rec)
    for frac in (0.01, 0.2):
        train, val, desc = split_genome(index, val_fraction=frac, split_seed=1)
        assert not train.overlaps(val) and not val.overlaps(train)
        t_mask, v_mask = covered(train, total), covered(val, total)
        assert not (t_mask & v_mask).any()
        assert (t_mask | v_mask).sum() == (index.run_end - index.run_start).sum()  # nothing lost
        share = v_mask.sum() / (t_mask | v_mask).sum()
        assert abs(share - frac) < 0.35 * frac + 0.005, share
        # every training segment stays inside training bases, every validation one inside val
        s, length, _ = sample_segments(train, 4_000, seed=2, spec=SPEC)
        seen = np.zeros(total + 1, dtype=np.int32)
        np.add.at(seen, s, 1)
        np.add.at(seen, s + length, -1)
        assert not (np.cumsum(seen)[:-1] > 0)[v_mask].any()
        s, length, _ = sample_segments(val, 500, seed=2, stream=1, spec=SPEC)
        assert all(v_mask[a:a + n].all() for a, n in zip(s, length))
    assert GenomeIntervals(np.array([5]), np.array([9]), np.array([0])).overlaps(
        GenomeIntervals(np.array([0, 8]), np.array([6, 20]), np.array([0, 0])))
    assert not GenomeIntervals(np.array([6]), np.array([8]), np.array([0])).overlaps(
        GenomeIntervals(np.array([0, 8]), np.array([6, 20]), np.array([0, 0])))


def test_bad_validation_choices_are_clear_errors(genome, tmp_path):
    _, index, _ = genome
    with pytest.raises(GeneMaskInputError, match=r"chr99 are not in the corpus \(its records: chr1"):
        split_genome(index, val_records=["chr99"])
    with pytest.raises(GeneMaskInputError, match="no ACGT bases are left for training"):
        split_genome(index, val_records=index.names)
    with pytest.raises(GeneMaskInputError, match="val_fraction must be between 0 and 1"):
        split_genome(index, val_fraction=1.5)
    tiny = index_genome(write_fasta(tmp_path / "t.fa", [("a", "ACGT" * 300)]), cache_dir=tmp_path)
    with pytest.raises(GeneMaskInputError, match="too small to hold out"):
        split_genome(tiny, val_fraction=0.01)


def test_pretraining_corpus_on_the_demo_genome_reports_its_provenance(tmp_path):
    from genemask_viz.tokens import ids_to_sequence
    from genemask_viz.training.corpus import VAL_INDEX_OFFSET, pretraining_corpus
    corpus = pretraining_corpus("demo", n_train=3_000, n_val=50, seed=5, k=6, max_length=64,
                                val_records="chr4", cache_dir=tmp_path)
    info = corpus.report()
    json.dumps(info)  # JSON-able as it is written
    recs = {r["name"]: r for r in info["records"]}
    assert recs["chr4"]["train_segments"] == 0 and recs["chr4"]["val_segments"] == 50
    assert sum(r["train_segments"] for r in recs.values()) == 3_000
    assert all(recs[c]["train_segments"] > 800 for c in ("chr1", "chr2", "chr3"))
    assert info["nucleotides_seen"] == int(corpus.train.lengths.sum())
    assert corpus.train.lengths.max() == 67  # 62 tokens + [CLS]/[SEP] at max_length 64
    assert info["epochs"] == pytest.approx(info["nucleotides_seen"] / info["train_bases"])
    assert info["train_bases"] == sum(r["train_bases"] for r in recs.values())
    item = corpus.train[7]
    assert item["idx"] == 7 and corpus.val[3]["idx"] == VAL_INDEX_OFFSET + 3
    text = "".join("ATCG"[c] for c in corpus.train.codes(7))
    assert ids_to_sequence(item["input_ids"], k=6) == text and len(text) == corpus.train.lengths[7]
    same = pretraining_corpus("demo", n_train=3_000, n_val=50, seed=5, k=6, max_length=64,
                              val_records="chr4", cache_dir=tmp_path)
    np.testing.assert_array_equal(same.train.starts, corpus.train.starts)
    with pytest.raises(GeneMaskInputError, match="either validation records or a validation fraction"):
        pretraining_corpus("demo", n_train=10, val_records="chr4", val_fraction=0.1, cache_dir=tmp_path)


def test_concurrent_builders_share_one_cache(tmp_path):
    from concurrent.futures import ThreadPoolExecutor
    fasta = write_fasta(tmp_path / "g.fa", make_genome(seed=2, n_records=3))
    with ThreadPoolExecutor(3) as pool:
        folders = list(pool.map(lambda _: index_genome(fasta, cache_dir=tmp_path / "c").folder,
                                range(3)))
    assert len(set(folders)) == 1
    assert [p.name for p in (tmp_path / "c" / "genome_index").iterdir()
            if not p.name.endswith(".lock")] == [folders[0].name]  # no temporary folder left


def test_pretrain_config_checks_validation_and_refuses_a_cap():
    from genemask_viz.training.pretrain import PretrainConfig
    with pytest.raises(GeneMaskInputError, match="either val_records or val_fraction, not both"):
        PretrainConfig(val_records="chr1", val_fraction=0.1)
    with pytest.raises(GeneMaskInputError, match="val_fraction must be between 0 and 1, got 1.0"):
        PretrainConfig(val_fraction=1.0)
    with pytest.raises(GeneMaskInputError, match=r"needs 32 training segments \(4 steps x 8 per "
                                                 r"step\) but max_segments is 10"):
        PretrainConfig(steps=4, batch_size=4, grad_accum=2, max_segments=10)
    assert PretrainConfig(steps=4, batch_size=4, max_segments=16).max_segments == 16
