"""GeneMaskCollator: a drop-in DataCollatorForLanguageModeling for every strategy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from genemask_viz.errors import GeneMaskInputError
from genemask_viz.masking import GeneMaskCollator, STRATEGIES, mask_batch, token_scores
from genemask_viz.tokens import KmerTokenizer, kmer_vocab

K = 6
TOK = KmerTokenizer(k=K)


def table(seed=0):
    rng = np.random.default_rng(seed)
    rows = [(g, K, s) for g, s in zip(kmer_vocab(K)[5:], rng.normal(size=4 ** K))]
    for n in (2, 3, 4):
        rows += [("".join(p), n, rng.normal()) for p in
                 np.array(np.meshgrid(*[list("ACGT")] * n)).reshape(n, -1).T]
    return pd.DataFrame(rows, columns=["ngram", "n", "genemask_score"])


TABLE = table()


def features(n=8, seed=0, as_tensors=True):
    rng = np.random.default_rng(seed)
    seqs = ["".join(rng.choice(list("ACGT"), int(rng.integers(6, 300)))) for _ in range(n)]
    b = TOK.encode_batch(seqs)
    out = []
    for i in range(n):
        L = int(b["attention_mask"][i].sum())
        ids = b["input_ids"][i, :L]
        out.append({"input_ids": ids.clone() if as_tensors else ids.tolist(),
                    "attention_mask": torch.ones(L, dtype=torch.long) if as_tensors else [1] * L})
    return out


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_collator_masks_labels_and_keeps_inputs(strategy):
    feats = features()
    before = [{k: v.clone() for k, v in f.items()} for f in feats]
    coll = GeneMaskCollator(TOK, strategy=strategy, table=TABLE, seed=3)
    out = coll(feats)
    for f, g in zip(feats, before):                     # features never mutated
        assert all(torch.equal(f[k], g[k]) for k in f)
    ids, labels, att = out["input_ids"], out["labels"], out["attention_mask"]
    padded = torch.nn.utils.rnn.pad_sequence([f["input_ids"] for f in feats], batch_first=True)
    masked = labels != -100
    assert masked.any()
    assert torch.equal(labels[masked], padded[masked])  # labels are the original tokens
    assert not (masked & (padded < 5)).any()            # never specials or padding
    assert torch.equal(ids[~masked], padded[~masked])   # unmasked inputs untouched
    assert (ids[masked] == 4).float().mean() > 0.6      # mostly [MASK] (80/10/10)
    assert (att.sum(1) == torch.tensor([len(f["input_ids"]) for f in feats])).all()
    # reproducible with the seed; and the same mask as the strategy function
    again = GeneMaskCollator(TOK, strategy=strategy, table=TABLE, seed=3)(features())
    assert torch.equal(again["labels"], labels) and torch.equal(again["input_ids"], ids)
    g = torch.Generator().manual_seed(3)
    params = {"rate": 0.15} if strategy == "random" else {}
    res = mask_batch(padded, None, strategy, table=TABLE, generator=g, details=False, **params)
    assert torch.equal(res.token_mask, masked)


def test_collator_with_tokenizer_features_and_lists():
    rng = np.random.default_rng(1)
    seqs = ["".join(rng.choice(list("ACGT"), int(n))) for n in (8, 40, 200, 515)]
    feats = [TOK(s, return_special_tokens_mask=True) for s in seqs]
    coll = GeneMaskCollator(TOK, strategy="genemask", table=TABLE, seed=0)
    out = coll(feats)
    assert out["input_ids"].shape == (4, 512)
    assert out["labels"].shape == (4, 512)
    assert ((out["labels"] != -100).sum(1) > 0)[2:].all()
    lists = coll(features(4, as_tensors=False))
    assert (lists["labels"] != -100).any()


def test_collator_config_errors():
    with pytest.raises(GeneMaskInputError, match="needs a PMI table"):
        GeneMaskCollator(TOK, strategy="genemask")
    with pytest.raises(GeneMaskInputError, match="unknown strategy"):
        GeneMaskCollator(TOK, strategy="span")
    with pytest.raises(GeneMaskInputError, match="DNABERT's layout"):
        GeneMaskCollator(TOK, strategy="dnabert", k=5)
    dn = GeneMaskCollator(TOK, strategy="dnabert", strategy_params={"centre_prob": 0.0})
    out = dn(features(2))
    assert (out["labels"] == -100).all()


def test_collator_in_trainer_step(tmp_path):
    from transformers import BertConfig, BertForMaskedLM, Trainer, TrainingArguments
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(TOK), hidden_size=32, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=512)
    model = BertForMaskedLM(config)
    coll = GeneMaskCollator(TOK, strategy="genemask", scores=token_scores(TABLE, K), seed=0)
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=2, per_device_train_batch_size=4,
                             report_to=[], save_strategy="no", use_cpu=True, logging_steps=1,
                             dataloader_num_workers=0, disable_tqdm=True)
    feats = features(8)
    trainer = Trainer(model=model, args=args, train_dataset=feats, data_collator=coll)
    before = model.bert.embeddings.word_embeddings.weight.detach().clone()
    result = trainer.train()
    assert result.global_step == 2
    assert np.isfinite(result.training_loss) and result.training_loss > 0
    assert not torch.equal(before, model.bert.embeddings.word_embeddings.weight)


# --- the `genemask mask` sub-command --------------------------------------------------------

def run_mask_cli(argv, capsys):
    import argparse
    import json

    from genemask_viz.cli import mask as mask_cli
    parser = argparse.ArgumentParser()
    mask_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["mask", *argv])
    assert args.func(args) == 0
    return json.loads(capsys.readouterr().out)


def test_mask_cli_json(tmp_path, capsys):
    path = tmp_path / "table.csv"
    TABLE.to_csv(path, index=False)
    seq = "ACGTTGCAAGGCTTACGATCGATCGGGATTACAGATTACCAGTTGACNNACGTAGCTAGCTAGGACT"
    out = run_mask_cli(["--strategy", "genemask", "--table", str(path), "--seed", "4",
                        "--sequence", seq, "--json"], capsys)
    (entry,) = out["sequences"]
    n_tok = len(seq) - K + 1
    assert out["strategy"] == "genemask" and entry["sequence"] == seq
    assert len(entry["tokens"]) == len(entry["token_mask"]) == n_tok
    assert len(entry["hidden_nt"]) == len(seq)
    assert entry["tokens"][0] == seq[:K] and entry["tokens"][45] == "[UNK]"
    # hidden bases are those that no unmasked k-mer covers
    for j, h in enumerate(entry["hidden_nt"]):
        cover = [i for i in range(max(0, j - K + 1), min(j, n_tok - 1) + 1)]
        assert h == all(entry["token_mask"][i] for i in cover)
    for span in entry["spans"]:
        assert all(entry["token_mask"][i] or entry["tokens"][i] == "[UNK]"
                   for i in range(span["first"], span["last"] + 1))
    for c in entry["centres"]:
        assert abs(c["chosen_token"] - c["token"]) <= 3 and c["extended"] in (True, False)


def test_mask_cli_fasta_and_errors(tmp_path, capsys):
    fasta = tmp_path / "s.fa"
    fasta.write_text(">a\nACGTACGTACGTAAACCCGGGTTT\n>b\nGGGGCCCCAAAATTTTACGTAGCTAGCTA\n")
    out = run_mask_cli(["--strategy", "dnabert", "--fasta", str(fasta), "--json", "--seed", "1"],
                       capsys)
    assert [e["name"] for e in out["sequences"]] == ["a", "b"]
    assert out["sequences"][1]["tokens"][0] == "GGGGCC"
    with pytest.raises(GeneMaskInputError, match="fewer than k=6"):
        run_mask_cli(["--strategy", "random", "--sequence", "ACGT", "--json"], capsys)
