"""``genemask reconstruct --model RUN (--sequence S | --fasta F) --strategy S --seed N [--json]``.

Masks each sequence with the strategy (the same draw ``genemask mask`` and the Mask
Explorer show for that seed), lets the pretrained model predict the masked k-mers, and
prints its probability of A, C, G, T at every hidden nucleotide (the renormalised product
of the marginals of the covering k-mer predictions), with the accuracy and the mean
log-likelihood of the true base. ``--compare RUN2`` scores a second model on the same mask.
"""

from __future__ import annotations

from ..jsonsafe import write_json_line
from ..masking.names import STRATEGIES, TABLE_STRATEGIES


def register(sub) -> None:
    p = sub.add_parser("reconstruct", help="a pretrained model's guesses at the nucleotides a "
                                           "mask hides", description=__doc__.split("\n", 2)[2].strip())
    p.add_argument("--model", required=True,
                   help="pretraining run folder or id, MLM checkpoint folder, Hub id, or a preset "
                        "(tiny|logo|dnabert-base: fresh weights, the no-pretraining baseline)")
    p.add_argument("--compare", help="a second model, scored on the same masks")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--sequence", help="one nucleotide sequence (its first 510 k-mers are used)")
    src.add_argument("--fasta", help="FASTA file; every record is reconstructed")
    p.add_argument("--strategy", default="dnabert", choices=STRATEGIES,
                   help="masking strategy (default dnabert)")
    p.add_argument("--seed", type=int, default=0, help="masking seed (default 0)")
    p.add_argument("--table", help="PMI table for the table strategies (default: the demo genome's)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a text view")
    p.set_defaults(func=run)


def _model_path(spec: str) -> str:
    """A run id under the registry root -> its folder; anything else unchanged."""
    from pathlib import Path

    from ..training.models import MODEL_PRESETS
    from ..training.registry import runs_root
    if spec in MODEL_PRESETS or Path(spec).expanduser().exists():
        return spec
    candidate = runs_root() / spec
    return str(candidate) if candidate.exists() else spec


def run(args) -> int:
    from ..interpret import load_mlm, model_k, reconstruct
    from .mask import _load_table, _records

    records = _records(args)
    specs = [args.model] + ([args.compare] if args.compare else [])
    models = [(s, load_mlm(_model_path(s))) for s in specs]
    k = model_k(models[0][1])
    if len({model_k(m) for _, m in models}) > 1:
        from ..errors import GeneMaskInputError
        raise GeneMaskInputError("the two models use different k-mer sizes; they cannot share a mask.",
                                 fix="compare models of the same k.")
    args.k = k
    table = _load_table(args, k)[0] if args.strategy in TABLE_STRATEGIES else None
    out = {"strategy": args.strategy, "seed": args.seed, "k": k, "sequences": []}
    for name, seq in records:
        first = reconstruct(models[0][1], seq, args.strategy, args.seed, table=table)
        recs = [first] + [reconstruct(m, seq, args.strategy, args.seed, token_mask=first.token_mask)
                          for _, m in models[1:]]
        entry = {"name": name, "models": []}
        for (spec, _), r in zip(models, recs):
            r.model = spec
            entry["models"].append(r.to_dict())
        out["sequences"].append(entry)
        if not args.json:
            print(f">{name}  strategy {args.strategy}, seed {args.seed}: {first.n_hidden} hidden "
                  f"of {len(first.sequence)} nt")
            print(f"  {'sequence':<12} {first.sequence}")
            for (spec, _), r in zip(models, recs):
                acc = "n/a" if not r.n_hidden else f"{r.accuracy:.3f}"
                print(f"  {'predicted':<12} {r.predicted}   <- {spec}: accuracy {acc}, "
                      f"mean log-likelihood {r.mean_loglik:.3f} nats")
    if args.json:
        write_json_line(out)
    return 0
