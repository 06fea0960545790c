"""``genemask mask --strategy S [--table TABLE] [--seed N] (--sequence ACGT... | --fasta FILE) [--json]``.

Masks each sequence (as one row of k-mer tokens, at most ``--max-tokens``) and
prints, per sequence, the tokens, the token mask, the hidden-nucleotide mask
and the spans. Coordinates in the output are 0-based: token ``i`` is the
sequence's i-th k-mer (covering nucleotides ``i .. i+k-1``), nucleotide ``j``
the sequence's j-th base; spans are inclusive ``[first, last]`` token ranges.
"""

from __future__ import annotations

import sys

from ..jsonsafe import write_json_line
from ..masking.names import STRATEGIES, TABLE_STRATEGIES



def register(sub) -> None:
    p = sub.add_parser("mask", help="mask sequences with a strategy and show tokens, spans and "
                                    "hidden nucleotides",
                       description=__doc__.split("\n", 2)[2].strip())
    p.add_argument("--strategy", required=True, choices=STRATEGIES)
    p.add_argument("--table", help="PMI score table (genemask npmi output or the release CSV); "
                                   "default for table strategies: computed from the demo genome")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--sequence", help="one nucleotide sequence (ACGT; other letters -> [UNK])")
    src.add_argument("--fasta", help="FASTA file; every record is masked")
    p.add_argument("--k", type=int, default=6, help="k-mer size 3..6 (default 6)")
    p.add_argument("--max-tokens", type=int, default=510,
                   help="k-mer tokens per sequence; longer sequences are truncated (default 510)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a text view")
    p.set_defaults(func=run)


def _load_table(args, k: int):
    from ..ngrams import compute_table, load_table
    if args.table:
        return load_table(args.table), args.table
    from ..sequences import demo_fasta_path
    max_n = 10 if args.strategy == "pmi-span" else k
    print(f"genemask mask: no --table; computing one (n <= {max_n}) from the demo genome...",
          file=sys.stderr)
    return compute_table(demo_fasta_path(), max_n=max_n), "demo genome"


def _records(args):
    from ..errors import GeneMaskInputError
    from ..sequences import read_fasta
    if args.sequence is not None:
        from ..sequences.fasta import looks_like_sequence
        seq = args.sequence.strip()
        if not looks_like_sequence(seq):
            bad = sorted(set(seq) - set("ACGTNRYKMSWBDHVUacgtnrykmswbdhvu"))
            raise GeneMaskInputError(f"--sequence contains {''.join(bad)!r}, not nucleotide letters.",
                                     fix="give one nucleotide sequence (ACGT; N and IUPAC codes "
                                         "become [UNK]) without spaces, or use --fasta FILE.")
        records = [("sequence", seq)]
    else:
        records = [(r.name, r.sequence) for r in read_fasta(args.fasta)]
    if not records:
        raise GeneMaskInputError("no sequences to mask.", source=args.fasta,
                                 fix="give a FASTA file with at least one record.")
    return records


def run(args) -> int:
    from ..errors import GeneMaskInputError
    from ..masking import SPAN_KINDS, mask_batch, token_scores, unit_vocabulary
    from ..sequences.kmertext import check_k
    from ..tokens import KmerTokenizer, id_to_kmer

    k = check_k(args.k)
    if args.max_tokens < 1:
        raise GeneMaskInputError(f"--max-tokens {args.max_tokens} must be at least 1.")
    records = _records(args)
    for name, seq in records:
        if len(seq) < k:
            raise GeneMaskInputError(f"sequence {name!r} has {len(seq)} nt, fewer than k={k}.",
                                     source=args.fasta, fix=f"give at least {k} nucleotides.")
    params = {}
    table_source = None
    if args.strategy in TABLE_STRATEGIES:
        table, table_source = _load_table(args, k)
        if args.strategy == "pmi-span":
            params["units"] = unit_vocabulary(table)
        else:
            params["scores"] = token_scores(table, k)
    tok = KmerTokenizer(k=k, model_max_length=args.max_tokens + 2)
    batch = tok.encode_batch([s for _, s in records], max_length=args.max_tokens + 2)
    result = mask_batch(batch["input_ids"], batch["attention_mask"], args.strategy, k=k,
                        seed=args.seed, **params)
    from ..ngrams import ranking_name
    out = {"strategy": args.strategy, "k": k, "seed": args.seed, "table": table_source,
           "ranking": ranking_name(table) if table_source else None,
           "sequences": []}
    ids = batch["input_ids"]
    for b, (name, seq) in enumerate(records):
        L = int(batch["attention_mask"][b].sum()) - 2           # k-mer tokens in this row
        n_nt = L + k - 1
        row_ids = ids[b, 1:L + 1].tolist()
        entry = {
            "name": name, "sequence": seq[:n_nt].upper(), "truncated": len(seq) > n_nt,
            "tokens": [id_to_kmer(i, k) for i in row_ids],
            "token_mask": result.token_mask[b, 1:L + 1].int().tolist(),
            "hidden_nt": result.hidden_nt[b, 1:n_nt + 1].int().tolist(),
        }
        entry["token_rate"] = sum(entry["token_mask"]) / max(1, sum(i >= 5 for i in row_ids))
        entry["hidden_rate"] = sum(entry["hidden_nt"]) / n_nt
        entry["spans"] = [{"first": int(f) - 1, "last": int(l) - 1, "kind": SPAN_KINDS[int(kd)]}
                          for f, l, kd in result.row_spans(b)]
        sel = result.centre_index[:, 0] == b
        centres = []
        for m in sel.nonzero()[:, 0].tolist():
            c = int(result.centre_index[m, 1])
            item = {"token": c - 1, "kmer": id_to_kmer(int(ids[b, c]), k)}
            if result.chosen_pos is not None:
                j = int(result.chosen_pos[m])
                score = float(result.chosen_score[m])
                item.update({"chosen_token": j - 1, "chosen_kmer": id_to_kmer(int(ids[b, j]), k),
                             "score": score if score > float("-inf") else None,
                             "extended": bool(result.extended[m])})
            centres.append(item)
        entry["centres"] = centres
        if result.units is not None:
            u = result.units[result.units[:, 0] == b]
            entry["units"] = [{"first_nt": int(f) - 1, "last_nt": int(l) - 1,
                               "unit": seq[int(f) - 1:int(l)].upper()} for _, f, l in u.tolist()]
        out["sequences"].append(entry)
    if args.json:
        write_json_line(out)
    else:
        _print_text(out)
    return 0


def _print_text(out: dict) -> None:
    print(f"strategy {out['strategy']}, k={out['k']}, seed {out['seed']}"
          + (f", table: {out['table']} ({out['ranking']})" if out["table"] else ""))
    for e in out["sequences"]:
        print(f"\n>{e['name']}  tokens masked {e['token_rate']:.1%}, nucleotides hidden "
              f"{e['hidden_rate']:.1%}" + ("  (truncated)" if e["truncated"] else ""))
        print(e["sequence"])
        print("".join("^" if h else " " for h in e["hidden_nt"]).rstrip() + "   <- hidden")
        masked = "".join("m" if m else "." for m in e["token_mask"])
        print(masked + "   <- token mask (k-mer i starts at base i)")
        for c in e["centres"]:
            if "chosen_kmer" in c:
                score = "unscored" if c["score"] is None else f"score {c['score']:.3f}"
                what = "random anchor" if out["strategy"] == "genemask-random-anchor" else "best k-mer"
                print(f"  centre {c['token']} {c['kmer']}: {what} {c['chosen_kmer']} at "
                      f"{c['chosen_token']} ({score}), extended={c['extended']}")
