"""Command line: python -m benchmark {run,validate,list,report,stats,leaderboard}."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import ConfigError

EXIT_USAGE = 2


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmark", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run (or resume) a study and write its report")
    run.add_argument("study", help="a study YAML file or a bundled study name (see `list`)")
    run.add_argument("--out", type=Path, help="run folder (default: reports/<study>)")
    run.add_argument("--trials", type=int, help="override the budget: trials per cell")
    run.add_argument("--seed", type=int, help="override the study seed")
    run.add_argument("--address", help="an existing Ray cluster (default: $RAY_ADDRESS, else an "
                     "embedded local Ray on 127.0.0.1)")
    run.add_argument("--storage", help="an Optuna storage URL (default: SQLite in the run folder)")
    run.add_argument("--cpus", type=int, help="CPUs for the embedded Ray (default: all)")
    run.add_argument("--no-report", action="store_true", help="skip writing index.html")
    run.add_argument("--log-every", type=int, metavar="N", help="when stdout is not a terminal "
                     "(a cluster job, nohup): a line every N finished trials (default: at most 20 lines "
                     "per run)")
    val = sub.add_parser("validate", help="check a study and its datasets without running it")
    val.add_argument("study")
    sub.add_parser("list", help="list bundled studies, datasets and learners")
    rep = sub.add_parser("report", help="rebuild DIR/index.html from stored results")
    rep.add_argument("dir", type=Path)
    st = sub.add_parser("stats", help="compare learners across datasets from a score table",
                        add_help=False)
    st.add_argument("rest", nargs=argparse.REMAINDER)
    lb = sub.add_parser("leaderboard", help="rank learners over every dataset of several run folders",
                        add_help=False)
    lb.add_argument("rest", nargs=argparse.REMAINDER)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["stats"]:
        from . import stats_cli

        return stats_cli.main(argv[1:])
    if argv[:1] == ["leaderboard"]:
        from .leaderboard import cli as leaderboard_cli

        return leaderboard_cli.main(argv[1:])
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "validate":
            return _validate(args)
        if args.command == "list":
            return _list()
        if args.command == "report":
            return _report(args.dir)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return EXIT_USAGE
    return EXIT_USAGE


def _validate(args) -> int:
    from . import learners
    from .data import notes
    from .runner import prepare

    plan = prepare(args.study)
    cells = len(plan.cells())
    print(f"{plan.study.name}: OK. {_count(len(plan.datasets), 'dataset')}, "
          f"{_count(len(plan.study.learners), 'learner')}, {_count(cells, 'cell')} x "
          f"{_count(plan.study.budget.trials, 'trial')}.")
    for name, ds in plan.datasets.items():  # what loading changed, what to look at, the metric
        print("\n".join("  " + line for line in notes.summary(ds, plan.metrics[name], plan.study.metric)))
    for d, l, why in plan.skipped:
        print(f"  skipped {l} on {d}: {why}")
    for name in plan.datasets:  # the verdict compares the families: say where one is missing
        ran = {learners.family(l) for d, l in plan.pairs if d == name}
        for missing in sorted({"classical", "deep"} - ran):
            print(f"  note: no {missing} learner runs on {name}, so it gets no verdict (add one "
                  f"that reads its data to the study's learners)")
    return 0


def _list() -> int:
    from . import learners, paths
    from .study import bundled_studies

    print("studies: ", ", ".join(bundled_studies()))
    print("datasets:", ", ".join(sorted(p.stem for p in paths.DATASETS.glob("*.yaml"))))
    print("learners:", ", ".join(f"{n} ({'deep' if n in learners.DEEP else 'classical'})"
                                 for n in learners.ALL))
    return 0


def _report(run_dir: Path) -> int:
    from .report import build_report

    path = build_report(run_dir)
    print(f"Report: {path}")
    return 0


def _run(args) -> int:
    from . import paths
    from .errors import Problem
    from .progress import RunProgress
    from .runner import execute, prepare

    if args.log_every is not None and args.log_every < 1:
        raise ConfigError([Problem("--log-every", "must be at least 1", args.log_every,
                                   "give a number of trials, e.g. --log-every 50")])
    plan = prepare(args.study, trials=args.trials, seed=args.seed)  # every check, before compute
    out = (args.out or paths.REPORTS / plan.study.name).resolve()
    # execute refuses an unusable run folder before writing to it (runner.check_folder)
    with RunProgress(plan, every=args.log_every) as progress:
        try:
            execute(plan, out, address=args.address, storage=args.storage, num_cpus=args.cpus,
                    on_event=progress.update)
        except KeyboardInterrupt:
            progress.stop()
            print(f"\nInterrupted. Every finished trial is stored in {out}; run the same command "
                  "again to resume.", file=sys.stderr)
            return 130
    from .results import load
    from .summary import print_summary

    trials, scores, manifest = load(out)
    print_summary(trials, scores, manifest)
    if not args.no_report:
        return _report(out)
    return 0
