"""``genemask fewshot --data DIR_OR_FILE --shots 10,50 --seeds 3 --model M --out RESULTS_DIR``.

Also ``--train FILE --test FILE``. Writes ``results.csv`` (one row per run) and
``summary.json`` (mean and standard deviation per setting) in ``--out``, a registry
run folder; progress on stderr, the summary table on stdout.
"""

from __future__ import annotations

import sys
from dataclasses import asdict


def _shots(text: str) -> list[int]:
    import argparse
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"shots must be integers like 10,50, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"shots must be positive integers, got {text!r}")
    return values


def protocol_lines(summary: dict) -> list[str]:
    """Per shot count: the settings used, the steps, the test set (rows, hash), pool notes."""
    lines = []
    for k, f in (summary.get("finetune") or {}).items():
        lines.append(f"k={k}: {f['settings']} (lr {f['learning_rate']:g}, {f['epochs']} epochs, "
                     f"batch {f['batch_size']}, warmup {f['warmup_steps']} of {f['steps']} steps, "
                     f"dropout {f['dropout']:g}, weight decay {f['weight_decay']:g}); test "
                     f"{f['test_rows']} rows, hash {f['test_hash']}")
        if f.get("shot_file_role", "").startswith("pool"):
            lines.append(f"  k={k}: {f['train_source']}")
    return lines


def register(sub) -> None:
    p = sub.add_parser("fewshot", help="few-shot fine-tuning and evaluation (shots x seeds)",
                       description="Fine-tune a model on k shots per class for several seeds and "
                                   "evaluate on a disjoint test set (accuracy, macro-F1, MCC, AUROC).")
    p.add_argument("--data", default=None,
                   help="GeneMask-layout folder, GUE folder (train.csv/test.csv), a labelled "
                        "TSV/CSV file, or 'demo'")
    p.add_argument("--train", default=None, help="labelled training pool file (instead of --data)")
    p.add_argument("--test", default=None, help="labelled test file (default: held out from the data)")
    p.add_argument("--shots", type=_shots, default=[10], help="shots per class, comma-separated")
    p.add_argument("--seeds", type=int, default=3, help="seeds (draws) per setting")
    p.add_argument("--model", default="tiny",
                   help="tiny | logo | dnabert-base (untrained) | pretraining run folder | checkpoint")
    p.add_argument("--out", default=None, help="results folder (default: a new run under ./runs)")
    p.add_argument("--settings", default="paper", choices=["paper", "interpolate"],
                   help="fine-tuning settings per shot count: paper = the release's two groups "
                        "(10/50/100 shots: lr 1e-4, 20 epochs, batch 5; 500/1000: lr 5e-5, 5 "
                        "epochs, batch 15); interpolate = log-k interpolation between them")
    p.add_argument("--lr", type=float, default=None, help="override the paper's learning rate")
    p.add_argument("--epochs", type=int, default=None, help="override the paper's epochs")
    p.add_argument("--batch-size", type=int, default=None, help="override the paper's batch size")
    p.add_argument("--test-fraction", type=float, default=0.2,
                   help="share held out as test set from a single file (default 0.2)")
    p.add_argument("--from-pool", action="store_true",
                   help="draw shots from the pool even where the data set has its own shot file")
    p.add_argument("--max-test", type=int, default=None, help="evaluate on at most N test rows")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    p.add_argument("--background", action="store_true", help="run in a background process")
    p.add_argument("--max-concurrent", type=int, default=1, help="with --background: runs at once")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..training.fewshot import FewShotConfig
    from ..training.registry import create_run, read_json, start_run
    from ..errors import GeneMaskInputError, with_source
    from ..training.models import resolve_model
    from ..training.tasks import load_task
    from ..training.worker import execute_run

    config = FewShotConfig(data=args.data, train=args.train, test=args.test, shots=args.shots,
                           seeds=args.seeds, settings_scheme=args.settings, model=args.model,
                           learning_rate=args.lr,
                           epochs=args.epochs, batch_size=args.batch_size,
                           test_fraction=args.test_fraction, from_pool=args.from_pool,
                           max_test=args.max_test, threads=args.threads)
    # bad data or a mistyped model fail here, before a run folder exists
    try:
        load_task(config.data, train=config.train, test=config.test,
                  test_fraction=config.test_fraction)
    except GeneMaskInputError as exc:  # e.g. too few rows per class: name the data file
        raise with_source(exc, config.data or config.train) from None
    resolve_model(config.model)
    if args.background:
        out = create_run("fewshot", asdict(config), run_dir=args.out)
        pid = start_run(out, max_concurrent=args.max_concurrent)
        print(f"started few-shot run {out} (pid {pid}); follow it with: genemask runs show {out}")
        return 0
    out = create_run("fewshot", asdict(config), run_dir=args.out)
    status = execute_run(out, progress=not args.quiet)
    summary = read_json(out / "summary.json") or {}
    if summary.get("test") and not args.quiet:
        print(f"test set: {summary['test']}", file=sys.stderr)
    for line in protocol_lines(summary):
        if not args.quiet or line.startswith("  "):  # pool notes even when quiet
            print(line, file=sys.stderr)
    import pandas as pd
    table = pd.DataFrame(summary.get("settings", []))
    if len(table):
        cols = [c for c in table.columns if c.endswith("_mean") or c.endswith("_std")]
        keys = ["dataset", "model", "shots", "n_seeds"] + [c for c in ("n_collapsed",) if c in table]
        print(table[keys + cols].round(4).to_string(index=False))
    from ..training.fewshot import collapse_notes
    for note in collapse_notes(summary):
        print(note)
    print(f"wrote {out / 'results.csv'} and {out / 'summary.json'}", file=sys.stderr)
    return 0 if status.get("state") == "done" else 1
