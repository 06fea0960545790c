"""``genemask attribute --model FINETUNED (--sequence S | --fasta F) [--json]``.

In-silico saturation mutagenesis of a fine-tuned few-shot classifier: every base changed
to each of the other three, the change in the log-odds of the target class (default: the
predicted one) for each (an L x 4 effect matrix), the importance of every observed base
(its mean-centred effect), the strongest windows and their best JASPAR matches (Tomtom).
``--model`` is a few-shot run folder or id (its first kept model, or ``--shots``/``--seed``)
or one of its ``models/shots-K_seed-S`` folders.
"""

from __future__ import annotations

from ..jsonsafe import write_json_line


def register(sub) -> None:
    p = sub.add_parser("attribute", help="which bases a fine-tuned classifier relies on (in-silico "
                                         "mutagenesis), beside JASPAR motifs",
                       description=__doc__.split("\n", 2)[2].strip())
    p.add_argument("--model", required=True, help="few-shot run (folder or id) or a kept model folder")
    p.add_argument("--shots", type=int, help="which kept model of the run: its shot count")
    p.add_argument("--model-seed", type=int, dest="model_seed", help="... and its seed")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--sequence", help="one nucleotide sequence (at most 515 nt for k=6)")
    src.add_argument("--fasta", help="FASTA file; every record is attributed")
    p.add_argument("--target", type=int, help="class whose log-odds is explained (default: predicted)")
    p.add_argument("--windows", type=int, default=3, help="strongest windows to report (default 3)")
    p.add_argument("--width", type=int, default=12, help="window width in nt (default 12)")
    p.add_argument("--motifs", default="JASPAR2024",
                   help="JASPAR release (offline, pyjaspar) or a JASPAR/MEME motif file; "
                        "'none' skips the comparison (default JASPAR2024)")
    p.add_argument("--hits", type=int, default=3, help="motif matches per window (default 3)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a text view")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..errors import GeneMaskInputError
    from ..interpret import as_motif_set, attribute, load_classifier
    from .mask import _records
    from .reconstruct import _model_path

    if args.windows < 0 or args.width < 1 or args.hits < 1:
        raise GeneMaskInputError("--windows must be >= 0, --width and --hits >= 1.")
    records = _records(args)
    model = load_classifier(_model_path(args.model), shots=args.shots, seed=args.model_seed)
    motifs = None if str(args.motifs).lower() == "none" or not args.windows else as_motif_set(args.motifs)
    out = {"model": args.model, "motifs": None if motifs is None else str(args.motifs), "sequences": []}
    for name, seq in records:
        a = attribute(model, seq, target=args.target, windows=args.windows, width=args.width,
                      motifs=motifs, hits=args.hits)
        a.model = args.model
        out["sequences"].append({"name": name, **a.to_dict()})
        if not args.json:
            print(f">{name}  class {a.target}: p = {a.probabilities[a.target]:.3f}, log-odds "
                  f"{a.reference_score:.3f}")
            for w in (a.windows.itertuples() if a.windows is not None else []):
                print(f"  window {w.start}-{w.end} {seq[w.start:w.end].upper()}: importance "
                      f"{w.score:.3f} ({w.share:.0%} of the positive total)")
                if a.matches is not None and len(a.matches):
                    hits = a.matches[a.matches["window"] == w.Index]
                    for h in hits.itertuples():
                        print(f"      {h.motif_id} {h.motif_name}: Tomtom p={h.p:.2g}, "
                              f"E={h.E:.2g}, strand {h.strand}")
    if args.json:
        write_json_line(out)
    return 0
