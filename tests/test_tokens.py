"""k-mer tokenizer: ids, round trips, save/load, BertTokenizer parity, [UNK]."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from transformers import BertTokenizer

from genemask_viz.errors import GeneMaskInputError
from genemask_viz.tokens import (CLS_ID, PAD_ID, SEP_ID, UNK_ID, KmerTokenizer, id_to_kmer,
                                 ids_to_sequence, kmer_to_id, kmer_vocab, seq_to_kmers)


def reference_ids(seq: str, k: int) -> list[int]:
    """Dictionary look-up of each k-mer string: the slow, obvious way."""
    vocab = {w: i for i, w in enumerate(kmer_vocab(k))}
    return [CLS_ID] + [vocab.get(seq[i:i + k], UNK_ID) for i in range(len(seq) - k + 1)] + [SEP_ID]


def test_vocab_order_is_dnabert():
    v = kmer_vocab(6)
    assert v[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert v[5:10] == ["AAAAAA", "AAAAAT", "AAAAAC", "AAAAAG", "AAAATA"]
    assert len(v) == 5 + 4 ** 6 and v[-1] == "GGGGGG"
    for k in range(3, 7):
        vk = kmer_vocab(k)
        assert vk[5:] == ["".join(p) for p in itertools.product("ATCG", repeat=k)]


@pytest.mark.parametrize("k", [3, 4, 5, 6])
def test_batch_encoding_matches_reference(k):
    rng = np.random.default_rng(k)
    tok = KmerTokenizer(k=k)
    seqs = ["".join(rng.choice(list("ACGTN"), int(n), p=[.24, .24, .24, .24, .04]))
            for n in rng.integers(k, 80, 12)]
    enc = tok.encode_batch(seqs)
    for row, seq in enumerate(seqs):
        ref = reference_ids(seq, k)
        got = enc["input_ids"][row].tolist()
        assert got[:len(ref)] == ref
        assert all(x == PAD_ID for x in got[len(ref):])
        assert enc["attention_mask"][row].sum().item() == len(ref)
        # the slow path (transformers __call__) agrees, from nucleotides and from k-mer text
        assert tok(seq)["input_ids"] == ref
        assert tok(seq_to_kmers(seq, k))["input_ids"] == ref


def test_round_trips():
    tok = KmerTokenizer()
    seq = "ACGTTGCAAGTCCGATNACGTAC"
    ids = tok.encode_batch([seq])["input_ids"][0]
    assert tok.decode_to_sequence(ids) == seq
    for kmer in ["AAAAAA", "ACGTAC", "GGGGGG", "TTTTTT"]:
        assert id_to_kmer(kmer_to_id(kmer)) == kmer
    assert kmer_to_id("ACGTAN") == UNK_ID
    assert ids_to_sequence([CLS_ID, kmer_to_id("ACGTAC"), kmer_to_id("CGTACG"), SEP_ID]) == "ACGTACG"


def test_unk_for_n_and_iupac():
    tok = KmerTokenizer()
    ids = tok.encode_batch(["ACGTACGNACGTACG"])["input_ids"][0].tolist()
    # 15 nt -> 10 k-mers; the 6 k-mers covering position 7 are [UNK]
    assert ids[1:11] == [ids[1], ids[2]] + [UNK_ID] * 6 + [ids[9], ids[10]]
    assert UNK_ID not in (ids[1], ids[2], ids[9], ids[10])
    assert tok.encode_batch(["ACGTRY"])["input_ids"][0, 1].item() == UNK_ID


def test_truncation_and_lengths():
    tok = KmerTokenizer(model_max_length=512)
    long = "ACGT" * 200  # 800 nt
    enc = tok.encode_batch([long])
    assert enc["input_ids"].shape == (1, 512)  # 510 k-mers = 515 nt kept
    assert tok.decode_to_sequence(enc["input_ids"][0]) == long[:515]
    with pytest.raises(GeneMaskInputError, match="fewer than k=6"):
        tok.encode_batch(["ACGTAC", "ACG"])
    enc = tok.encode_batch(["ACGTACGT"], pad_to=20)
    assert enc["input_ids"].shape == (1, 20)


def test_save_load_and_bert_tokenizer_parity(tmp_path):
    tok = KmerTokenizer(k=6)
    tok.save_pretrained(tmp_path)
    assert (tmp_path / "vocab.txt").read_text().split() == kmer_vocab(6)
    again = KmerTokenizer.from_pretrained(tmp_path)
    bert = BertTokenizer.from_pretrained(tmp_path)
    rng = np.random.default_rng(0)
    for _ in range(5):
        seq = "".join(rng.choice(list("ACGTN"), 60, p=[.245, .245, .245, .245, .02]))
        text = seq_to_kmers(seq)
        ref = reference_ids(seq, 6)
        assert again(text)["input_ids"] == ref
        assert bert(text)["input_ids"] == ref
    assert again.k == 6 and len(again) == 4101


def test_vocab_file_checked(tmp_path):
    bad = tmp_path / "vocab.txt"
    bad.write_text("\n".join(kmer_vocab(6)[:-1] + ["XXXXXX"]))
    with pytest.raises(GeneMaskInputError, match="not a DNABERT k-mer vocabulary"):
        KmerTokenizer(vocab_file=str(bad))
    good = tmp_path / "good.txt"
    good.write_text("\n".join(kmer_vocab(4)))
    assert KmerTokenizer(vocab_file=str(good)).k == 4


def test_decoding_keeps_masked_positions():
    from genemask_viz.tokens import MASK_ID
    tok = KmerTokenizer()
    ids = tok.encode_batch(["ACGTACGGTTCA"])["input_ids"][0].clone()
    ids[3] = MASK_ID  # other k-mers still cover every base of the masked one
    assert tok.decode_to_sequence(ids) == "ACGTACGGTTCA"
    ids[1:-1] = MASK_ID
    assert tok.decode_to_sequence(ids) == "N" * 12


def test_encode_batch_reads_kmer_text():
    tok = KmerTokenizer()
    text = seq_to_kmers("ACGTACGGTTCA")
    assert tok.encode_batch([text])["input_ids"][0].tolist() == tok(text)["input_ids"]
