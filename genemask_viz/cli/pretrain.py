"""``genemask pretrain --corpus FASTA|demo --strategy S --model M --steps N --out RUN_DIR``.

Runs in the foreground with a progress bar on stderr (``--background`` starts a
registry worker instead and returns at once). Repeating the same command on the same
``--out`` resumes from the last checkpoint. Works under ``accelerate launch`` (one
process per GPU; only process 0 writes).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import asdict


def register(sub) -> None:
    from ..masking.names import STRATEGIES
    p = sub.add_parser("pretrain", help="MLM-pretrain a DNA BERT with a masking strategy",
                       description="Pretrain a k-mer BERT with Hugging Face Trainer and a GeneMask-"
                                   "family masking collator. Defaults: the paper's GeneMask optimiser "
                                   "settings, scaled-down steps and batch.")
    p.add_argument("--corpus", required=True,
                   help="genome FASTA (plain or .gz; several comma-separated), or 'demo'; indexed "
                        "once into a 2-bit cache, then segments are drawn from the whole genome")
    p.add_argument("--strategy", default="genemask", choices=STRATEGIES, help="masking strategy")
    p.add_argument("--model", default="tiny",
                   help="tiny | logo | dnabert-base | checkpoint folder | pretraining run folder")
    p.add_argument("--steps", type=int, default=200, help="optimizer steps (paper: 10,000)")
    p.add_argument("--out", default=None,
                   help="run folder (default: a new folder under $GENEMASK_RUNS or ./runs)")
    p.add_argument("--batch-size", type=int, default=16, help="sequences per process per forward pass")
    p.add_argument("--grad-accum", type=int, default=1,
                   help="gradient accumulation (paper: 250 sequences per step in all)")
    p.add_argument("--lr", type=float, default=8e-4, help="peak learning rate (paper: 8e-4)")
    p.add_argument("--warmup", type=float, default=0.05, help="warmup: fraction (<1) or steps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save-steps", type=int, default=500, help="checkpoint every N steps")
    p.add_argument("--eval-steps", type=int, default=None, help="validate every N steps (default: at the end)")
    p.add_argument("--logging-steps", type=int, default=10)
    p.add_argument("--n-val", type=int, default=64,
                   help="validation segments, drawn from the held-out part")
    p.add_argument("--val-records", default=None,
                   help="hold out these records for validation, e.g. chr21,chr22")
    p.add_argument("--val-fraction", type=float, default=None,
                   help="hold out this share of the bases, in blocks spread over the genome "
                        "(default 0.01 when --val-records is not given)")
    p.add_argument("--max-length", type=int, default=512, help="positions incl. [CLS]/[SEP]")
    p.add_argument("--table", default=None,
                   help="n-gram score table (.csv/.parquet from 'genemask npmi', or the release's "
                        "ranking); default: count the corpus")
    p.add_argument("--mlm-probability", type=float, default=None,
                   help="override the strategy's rate (random: token rate; dnabert/genemask: centre "
                        "probability)")
    p.add_argument("--switch-window", type=int, default=None,
                   help="curricula (cm-gems): steps per window of the switch rule (default 5%% of "
                        "--steps, whole logging intervals)")
    p.add_argument("--switch-threshold", type=float, default=None,
                   help="curricula (cm-gems): switch to the next stage when the smoothed training "
                        "perplexity improved by less than this over a window (default 1.0)")
    p.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp32"],
                   help="auto: bf16 on a GPU with bf16, or on a CPU with AMX/AVX512-BF16 for "
                        "models >= 256 wide; fp32 otherwise")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for torch (default: every core this process may use)")
    p.add_argument("--no-group-by-length", dest="group_by_length", action="store_false",
                   help="batch segments in random order (default: batches of similar length, "
                        "less padding)")
    p.add_argument("--attention-dropout", type=float, default=None,
                   help="dropout on attention probabilities (default: the preset's; see "
                        "genemask_viz.training.models)")
    p.add_argument("--hidden-dropout", type=float, default=None,
                   help="dropout on hidden states (default: the preset's)")
    p.add_argument("--torch-dropout", dest="fast_dropout", action="store_false",
                   help="torch's own CPU dropout draws (default: 16-bit draws, 4x fewer "
                        "generator calls; the same p to 1/65536; see training.fastmlm)")
    p.add_argument("--num-workers", type=int, default=0, help="dataloader worker processes")
    p.add_argument("--background", action="store_true",
                   help="start a background run (registry) and return its folder")
    p.add_argument("--max-concurrent", type=int, default=1, help="with --background: runs at once")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def config_from_args(args):
    from ..training.pretrain import PretrainConfig
    return PretrainConfig(corpus=args.corpus, strategy=args.strategy, model=args.model,
                          steps=args.steps, batch_size=args.batch_size, grad_accum=args.grad_accum,
                          learning_rate=args.lr, warmup=args.warmup, seed=args.seed,
                          save_steps=args.save_steps, eval_steps=args.eval_steps,
                          logging_steps=args.logging_steps, n_val=args.n_val,
                          val_records=args.val_records, val_fraction=args.val_fraction,
                          max_length=args.max_length, table=args.table,
                          mlm_probability=args.mlm_probability, precision=args.precision,
                          threads=args.threads, num_workers=args.num_workers,
                          group_by_length=getattr(args, "group_by_length", True),
                          attention_dropout=getattr(args, "attention_dropout", None),
                          hidden_dropout=getattr(args, "hidden_dropout", None),
                          fast_dropout=getattr(args, "fast_dropout", True),
                          switch_window=getattr(args, "switch_window", None),
                          switch_threshold=getattr(args, "switch_threshold", None))


def wait_for_config(out, timeout_s: float = 300.0) -> None:
    """Processes other than 0 under accelerate wait for process 0 to create the run folder."""
    from ..errors import GeneMaskInputError
    deadline = time.monotonic() + timeout_s
    while not os.path.exists(os.path.join(out, "config.json")):
        if time.monotonic() > deadline:
            raise GeneMaskInputError("process 0 did not create the run folder in time.", source=out)
        time.sleep(0.5)


def check_inputs(config) -> None:
    """Check the corpus files, the score table and the model before a run folder exists, so
    that a typo leaves no failed run behind."""
    from ..masking.names import TABLE_STRATEGIES
    from ..sequences.fasta import check_fasta_start
    from ..training.corpus import corpus_paths
    from ..training.models import resolve_model
    if str(config.corpus).strip() != "demo":
        for path in corpus_paths(config.corpus):
            check_fasta_start(path)
    # the held-out part must exist (record names, a fraction the genome can spare); this
    # indexes the corpus once (cached; the run reuses it), so a big genome takes a while here
    from ..sequences.genome_index import index_genome
    from ..sequences.segments import split_genome
    split_genome(index_genome(corpus_paths(config.corpus), progress=True),
                 val_records=config.val_records,
                 val_fraction=None if config.val_records else (config.val_fraction or 0.01))
    if config.table and config.strategy in TABLE_STRATEGIES:
        from ..masking import token_scores, unit_vocabulary
        from ..ngrams import load_table
        table = load_table(config.table)
        if config.strategy == "pmi-span":
            unit_vocabulary(table)
        else:
            token_scores(table, config.k)
    resolve_model(config.model, k=config.k)


def run(args) -> int:
    from ..errors import GeneMaskInputError
    from ..training.registry import create_run, read_json, start_run
    from ..training.worker import close_distributed, execute_run

    config = config_from_args(args)
    rank = int(os.environ.get("RANK", "0"))
    if rank == 0:
        check_inputs(config)
        out = create_run("pretrain", asdict(config), run_dir=args.out)
    else:
        if args.out is None:
            raise GeneMaskInputError("under accelerate launch, give --out.", fix="add --out RUN_DIR.")
        out = args.out
        wait_for_config(out)
    if args.background:
        pid = start_run(out, max_concurrent=args.max_concurrent)
        print(f"started pretraining run {out} (pid {pid}); follow it with: genemask runs show {out}")
        return 0
    try:
        status = execute_run(out, progress=not args.quiet)
    except BaseException:
        close_distributed(ok=False)
        raise
    close_distributed(ok=True)  # under accelerate launch: no rank exits under a live peer
    if rank == 0:
        ev = read_json(os.path.join(out, "eval.json")) or {}
        if status.get("state") == "cancelled":
            print(f"cancelled; checkpoints kept in {out}/checkpoints (rerun the command to resume)",
                  file=sys.stderr)
            return 1
        print(f"run {out}: {status.get('step')} steps; validation MLM loss {ev.get('eval_loss', float('nan')):.4f}, "
              f"masked-token accuracy {ev.get('eval_accuracy', float('nan')):.4f}; model in {out}/model")
        corpus = read_json(os.path.join(out, "corpus.json")) or {}
        if corpus:
            print(f"corpus: {corpus['nucleotides_seen']:,} nt seen in {corpus['train_segments']:,} "
                  f"segments drawn over {corpus['train_bases']:,} training bases "
                  f"({corpus['epochs']:.3g} epochs); validation: {corpus['val_segments']} segments of "
                  f"the held-out {corpus['val_bases']:,} bases; details in {out}/corpus.json")
    return 0
