"""DNABERT-compatible overlapping k-mer tokens (spec section 1).

Vocabulary: ``[PAD]=0, [UNK]=1, [CLS]=2, [SEP]=3, [MASK]=4``, then all 4^k
k-mers in lexicographic order over **A, T, C, G** (DNABERT's vocab.txt). With
A=0, T=1, C=2, G=3 a k-mer's id is

    id(b_1..b_k) = 5 + sum_i code(b_i) * 4^(k-i)

so a batch is encoded with array arithmetic: one shifted multiply-add per
k-mer position, never a string split. A k-mer covering anything but ACGT
(N, IUPAC codes) is ``[UNK]``. Stride 1: L nucleotides give L-k+1 tokens,
wrapped as ``[CLS] ... [SEP]``; 512 positions hold 510 k-mers = 515 nt (k=6).

:class:`KmerTokenizer` is a ``transformers`` tokenizer: it pads, saves and
loads with ``save_pretrained``/``from_pretrained``, and its ``vocab.txt``
makes ``transformers.BertTokenizer`` give the same ids from k-mer text, so
DNABERT checkpoints (e.g. ``zhihan1996/DNA_bert_6`` in a local folder) work
with it unchanged. Its ``__call__`` accepts k-mer text (what DNABERT and the
benchmark TSVs use) or plain nucleotides; :meth:`KmerTokenizer.encode_batch`
is the fast path for nucleotides.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import numpy as np
import torch
from transformers import PreTrainedTokenizer

from .errors import GeneMaskInputError
from .sequences.fasta import ALPHABET, INVALID, LETTERS, str_to_codes
from .sequences.kmertext import check_k, kmers_to_seq, seq_to_kmers

__all__ = ["KmerTokenizer", "SPECIAL_TOKENS", "PAD_ID", "UNK_ID", "CLS_ID", "SEP_ID", "MASK_ID",
           "N_SPECIAL", "kmer_vocab", "kmer_ids_from_codes", "kmer_to_id", "id_to_kmer",
           "seq_to_kmers", "kmers_to_seq", "ids_to_sequence"]

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID = range(5)
N_SPECIAL = len(SPECIAL_TOKENS)


def kmer_vocab(k: int = 6) -> list[str]:
    """The full vocabulary in id order: 5 special tokens, then 4^k k-mers (A<T<C<G)."""
    check_k(k)
    return list(SPECIAL_TOKENS) + ["".join(p) for p in itertools.product(ALPHABET, repeat=k)]


def kmer_to_id(kmer: str) -> int:
    """One k-mer string -> its id (``[UNK]`` for anything not ACGT)."""
    codes = str_to_codes(kmer)
    if codes.size != len(kmer) or (codes == INVALID).any():
        return UNK_ID
    return int(N_SPECIAL + (codes.astype(np.int64) * 4 ** np.arange(len(kmer) - 1, -1, -1)).sum())


def id_to_kmer(token_id: int, k: int = 6) -> str:
    """Inverse of :func:`kmer_to_id` for k-mer ids; special ids give their token."""
    if token_id < N_SPECIAL:
        return SPECIAL_TOKENS[token_id]
    code = token_id - N_SPECIAL
    return "".join(ALPHABET[(code >> (2 * (k - 1 - i))) & 3] for i in range(k))


def kmer_ids_from_codes(codes: np.ndarray, k: int = 6) -> np.ndarray:
    """Codes (uint8, 0..4, last axis = positions) -> k-mer ids of every stride-1 window.

    Works on 1-D or 2-D arrays; the last axis shrinks by k-1. Windows with an
    INVALID code get ``[UNK]``.
    """
    codes = np.asarray(codes)
    n = codes.shape[-1] - k + 1
    if n <= 0:
        return np.empty(codes.shape[:-1] + (0,), dtype=np.int64)
    ids = np.zeros(codes.shape[:-1] + (n,), dtype=np.int64)
    bad = np.zeros(ids.shape, dtype=bool)
    for i in range(k):  # k vectorised passes, not a loop over positions
        window = codes[..., i:i + n]
        ids = ids * 4 + (window & 3)
        bad |= window >= INVALID
    ids += N_SPECIAL
    ids[bad] = UNK_ID
    return ids


def ids_to_sequence(ids, k: int = 6) -> str:
    """Token ids of one sequence ([CLS], [SEP], [PAD] ignored) -> nucleotides.

    Each base is read from any known k-mer covering it (the first base of each
    k-mer plus the whole last one when none is [UNK] or [MASK]); a base that
    only [UNK] or [MASK] tokens cover comes back as 'N', in its place.
    """
    ids = np.asarray(ids, dtype=np.int64)
    ids = ids[(ids >= N_SPECIAL) | (ids == UNK_ID) | (ids == MASK_ID)]
    if ids.size == 0:
        return ""
    shifts = 2 * np.arange(k - 1, -1, -1)
    digits = ((ids[:, None] - N_SPECIAL) >> shifts) & 3  # (tokens, k)
    known = ids >= N_SPECIAL
    codes = np.full(ids.size + k - 1, INVALID, dtype=np.uint8)
    for i in range(k - 1, -1, -1):  # k vectorised passes over token offsets
        pos = np.flatnonzero(known) + i
        codes[pos] = digits[known, i]
    return LETTERS[codes].tobytes().decode("ascii")


class KmerTokenizer(PreTrainedTokenizer):
    """Overlapping k-mer tokenizer with DNABERT's vocabulary (k = 3..6).

    Parameters
    ----------
    vocab_file : optional path of a DNABERT-style ``vocab.txt``; it must be the
        standard vocabulary for its k (checked), since ids are computed, not looked up.
    k : k-mer size; taken from ``vocab_file`` when given.
    model_max_length : positions including [CLS] and [SEP] (512 -> 510 k-mers).
    """

    vocab_files_names = {"vocab_file": "vocab.txt"}
    model_input_names = ["input_ids", "token_type_ids", "attention_mask"]

    def __init__(self, vocab_file: str | None = None, k: int = 6, model_max_length: int = 512,
                 **kwargs):
        if vocab_file is not None:
            words = Path(vocab_file).read_text().split()
            k = len(words[-1]) if words else k
            if words != kmer_vocab(check_k(k)):
                raise GeneMaskInputError(
                    "is not a DNABERT k-mer vocabulary (5 special tokens, then all k-mers in A,T,C,G order).",
                    source=vocab_file,
                    fix="use a checkpoint trained with DNABERT's vocab.txt, or train a model with genemask.")
        self.k = check_k(k)
        self.vocab = {w: i for i, w in enumerate(kmer_vocab(self.k))}
        self.ids_to_tokens = list(self.vocab)
        kwargs.pop("special_tokens_pattern", None)
        for name, tok in zip(("pad_token", "unk_token", "cls_token", "sep_token", "mask_token"),
                             SPECIAL_TOKENS):
            kwargs.setdefault(name, tok)
        kwargs.setdefault("do_lower_case", False)
        super().__init__(k=self.k, model_max_length=model_max_length,
                         special_tokens_pattern="cls_sep", **kwargs)

    # --- the transformers tokenizer interface ------------------------------------
    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def get_vocab(self) -> dict[str, int]:
        return dict(self.vocab)

    def _tokenize(self, text: str, **kwargs) -> list[str]:
        """k-mer text (space-separated) stays as it is; plain nucleotides are cut into k-mers."""
        text = text.strip()
        if not text:
            return []
        if any(c.isspace() for c in text):
            return text.upper().split()
        if len(text) < self.k:
            raise GeneMaskInputError(f"sequence of {len(text)} nt is shorter than k={self.k}.",
                                     fix=f"give sequences of at least {self.k} nucleotides.")
        return seq_to_kmers(text, self.k).split()

    def _convert_token_to_id(self, token: str) -> int:
        return self.vocab.get(token, UNK_ID)

    def _convert_id_to_token(self, index: int) -> str:
        return self.ids_to_tokens[index] if 0 <= index < len(self.ids_to_tokens) else SPECIAL_TOKENS[UNK_ID]

    def convert_tokens_to_string(self, tokens: list[str]) -> str:
        return " ".join(tokens)

    def save_vocabulary(self, save_directory: str, filename_prefix: str | None = None) -> tuple[str]:
        name = (filename_prefix + "-" if filename_prefix else "") + "vocab.txt"
        path = os.path.join(save_directory, name)
        with open(path, "w") as fh:
            fh.write("\n".join(self.ids_to_tokens) + "\n")
        return (path,)

    def save_pretrained(self, save_directory, *args, **kwargs):
        """Save as transformers does, and make the folder readable by plain ``BertTokenizer``.

        ``tokenizer_config.json`` records ``do_lower_case: false`` (k-mers are upper
        case) and ``k``; ``AutoTokenizer`` then needs this class to be imported,
        while ``BertTokenizer.from_pretrained`` reads the same ids from ``vocab.txt``.
        """
        files = super().save_pretrained(save_directory, *args, **kwargs)
        cfg_path = Path(save_directory) / "tokenizer_config.json"
        cfg = json.loads(cfg_path.read_text())
        cfg.update({"do_lower_case": False, "k": self.k})
        cfg_path.write_text(json.dumps(cfg, indent=2))
        return files

    # --- fast paths ------------------------------------------------------------
    @property
    def max_kmers(self) -> int:
        """k-mer tokens that fit between [CLS] and [SEP]."""
        return self.model_max_length - 2

    def encode_batch(self, sequences: list[str], max_length: int | None = None,
                     pad_to: int | None = None, return_tensors: str | None = "pt") -> dict:
        """Nucleotide strings -> padded ``input_ids`` and ``attention_mask`` (array arithmetic).

        Sequences longer than ``max_length - 2 + k - 1`` nt are truncated at the
        right; sequences shorter than k raise a :class:`GeneMaskInputError`.
        Space-separated k-mer text is decoded to nucleotides first (as ``__call__`` does).
        ``pad_to`` fixes the padded width (default: the longest in the batch).
        """
        max_length = max_length or self.model_max_length
        k, limit = self.k, max_length - 2
        sequences = [kmers_to_seq(s) if " " in s.strip() else s for s in sequences]
        codes = [str_to_codes(s)[: limit + k - 1] for s in sequences]
        for i, c in enumerate(codes):
            if c.size < k:
                raise GeneMaskInputError(
                    f"sequence {i + 1} has {c.size} nt, fewer than k={k}.",
                    fix=f"give sequences of at least {k} nucleotides, or drop the short ones.")
        lengths = np.array([c.size - k + 1 for c in codes], dtype=np.int64)
        width = int(pad_to or (lengths.max() + 2 if len(codes) else 2))
        if len(codes) and lengths.max() + 2 > width:
            raise GeneMaskInputError(f"pad_to={width} is shorter than the longest sequence "
                                     f"({lengths.max() + 2} positions).", fix="raise pad_to.")
        # one flat array of all k-mer ids, then scattered into rows
        flat = kmer_ids_from_codes(np.concatenate(codes), k) if codes else np.empty(0, np.int64)
        starts = np.concatenate(([0], np.cumsum([c.size for c in codes])[:-1])) if codes else []
        ids = np.full((len(codes), width), PAD_ID, dtype=np.int64)
        rows = np.repeat(np.arange(len(codes)), lengths)
        within = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        src = np.repeat(np.asarray(starts, dtype=np.int64), lengths) + within
        ids[rows, within + 1] = flat[src]
        ids[:, 0] = CLS_ID
        ids[np.arange(len(codes)), lengths + 1] = SEP_ID
        attention = (np.arange(width)[None, :] < (lengths + 2)[:, None]).astype(np.int64)
        out = {"input_ids": ids, "attention_mask": attention}
        if return_tensors == "pt":
            out = {key: torch.from_numpy(v) for key, v in out.items()}
        return out

    def decode_to_sequence(self, ids) -> str:
        """Token ids of one sequence -> nucleotides (see :func:`ids_to_sequence`)."""
        if isinstance(ids, torch.Tensor):
            ids = ids.cpu().numpy()
        return ids_to_sequence(ids, self.k)
