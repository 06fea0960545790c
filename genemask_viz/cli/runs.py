"""``genemask runs ls | show ID | cancel ID | compare ID ID...``: the run registry."""

from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("runs", help="list, inspect, compare and cancel pretraining / few-shot runs",
                       description="Runs live under --root (default $GENEMASK_RUNS or ./runs); an "
                                   "ID may also be a run folder path.")
    p.add_argument("--root", default=None, help="runs folder (default $GENEMASK_RUNS or ./runs)")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    verbs.add_parser("ls", help="one line per run")
    show = verbs.add_parser("show", help="config, status, progress and results of one run")
    show.add_argument("id")
    cancel = verbs.add_parser("cancel", help="cancel a queued or running run")
    cancel.add_argument("id")
    compare = verbs.add_parser("compare", help="runs side by side (differing settings, metrics)")
    compare.add_argument("ids", nargs="+")
    p.set_defaults(func=run)


def run(args) -> int:
    import pandas as pd

    from ..training import registry as reg
    with pd.option_context("display.width", 160, "display.max_columns", 30,
                           "display.max_colwidth", 40):
        if args.verb == "ls":
            table = reg.list_runs(args.root)
            if not len(table):
                print(f"no runs under {reg.runs_root(args.root)}")
                return 0
            cols = [c for c in ("id", "kind", "state", "step", "max_steps", "model", "strategy",
                                "data", "eval_loss", "eval_accuracy", "accuracy_mean", "mcc_mean")
                    if c in table]
            print(table[cols].to_string(index=False))
        elif args.verb == "show":
            run_dir = reg.resolve_run(args.id, args.root)
            cfg = reg.read_config(run_dir)
            prog = reg.run_progress(run_dir)
            print(f"run {cfg.get('id')} ({cfg.get('kind')}) at {run_dir}")
            print(f"state: {prog['state']}  step {prog['step']}/{prog['max_steps']}"
                  f"  ({prog['fraction']:.0%})" + (f"  loss {prog['loss']:.4f}" if prog['loss'] is not None else "")
                  + (f"  elapsed {prog['elapsed']:.0f} s" if prog['elapsed'] else ""))
            if prog["error"]:
                print(f"error: {prog['error']}")
            print("params: " + json.dumps(cfg.get("params", {}), indent=None, default=str))
            if prog["message"]:
                print(f"note: {prog['message']}")
            results = reg.load_results(run_dir)
            if isinstance(results, pd.DataFrame):
                print(results.drop(columns=[c for c in ("train_source", "test_source") if c in results])
                      .round(4).to_string(index=False))
            elif results:
                print("eval: " + json.dumps({k: results[k] for k in ("eval_loss", "eval_accuracy",
                                                                     "perplexity") if k in results}))
        elif args.verb == "cancel":
            status = reg.cancel_run(reg.resolve_run(args.id, args.root))
            print(f"{args.id}: {status.get('state')}")
        else:
            print(reg.compare_runs(args.ids, args.root).to_string(index=False))
    return 0
