"""How long does building the report take, and where does the time go?

    python scripts/bench_report.py [RUN_DIR] [--repeats N]

Without RUN_DIR it uses the first finished run under reports/, else the synthetic run folder of
the test suite (3 datasets, 4 learners, 3 folds, 10 trials).  Prints the median of N full builds
and of each stage: loading, statistics (tables, tests, budget curves), figures (plotly, JSON)
and HTML (template, inlined plotly.js, writing).  Asserts nothing.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmark.report import analyse, build_report, load_run, page, render  # noqa: E402


def default_run_dir() -> Path:
    """A finished run under reports/, or a synthetic one written to a temporary folder."""
    for manifest in sorted((ROOT / "reports").glob("*/manifest.json")):
        if (manifest.parent / "scores.parquet").exists():
            return manifest.parent
    sys.path.insert(0, str(ROOT / "tests"))
    from test_report import make_run_folder

    return make_run_folder(Path(tempfile.mkdtemp(prefix="bench-report-")))


def timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", nargs="?", type=Path)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    run_dir = args.run_dir or default_run_dir()
    print(f"run folder: {run_dir}")
    build_report(run_dir)  # warm-up: imports, plotly.js read once
    totals, stages = [], {"load": [], "statistics": [], "figures": [], "html": []}
    for _ in range(args.repeats):
        start = time.perf_counter()
        run, t_load = timed(load_run, run_dir)
        a, t_stats = timed(analyse, run)
        figs, t_figs = timed(page.draw, a)
        html, t_render = timed(render, a, figs)
        (run.dir / "index.html").write_text(html, encoding="utf-8")
        t_html = t_render + (time.perf_counter() - start - t_load - t_stats - t_figs - t_render)
        totals.append(time.perf_counter() - start)
        for key, t in zip(stages, (t_load, t_stats, t_figs, t_html)):
            stages[key].append(t)
    path = run_dir / "index.html"
    n_figs = path.read_text(encoding="utf-8").count('class="plot"')
    print(f"datasets: {len(run.datasets)}, trials: {len(run.trials)}, score rows: {len(run.scores)}, "
          f"figures: {n_figs}, index.html: {path.stat().st_size / 1e6:.1f} MB")
    print(f"build_report: median {statistics.median(totals):.2f} s over {args.repeats} builds "
          f"(min {min(totals):.2f} s, max {max(totals):.2f} s)")
    for key, values in stages.items():
        med = statistics.median(values)
        share = 100 * med / sum(statistics.median(v) for v in stages.values())
        print(f"  {key:<11} {med:6.3f} s  ({share:4.0f}% of the stages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
