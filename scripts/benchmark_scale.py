"""How the cost of ``make run`` grows with the chain: synthetic chains of 100 to 11,150 stores.

For each size, in a throwaway copy of the project with its own MLflow database: ``kedro data
synthesize`` and ``kedro run`` (what ``make run`` runs), each measured as its own child (wall,
CPU, peak RSS), with the step that dominates the run. A run that would take the machine down is
stopped at a memory ceiling (default: the machine's memory less 3 GiB) or a time limit, and the
table says where it stopped and why. Writes ``benchmark/results/<date>-<commit>-scale.json``,
``.md`` and ``.png`` (the plot) and refills the scale block of ``docs/benchmarks.md``.

Usage: ``python scripts/benchmark_scale.py [--sizes 100 300 1115 3345 11150] [--max-rss-gib G]
[--timeout-s S] [--keep] [--no-docs]`` (``make benchmark-scale``).
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import git_commit, machine, now_utc, run_measured  # noqa: E402
from benchmark_report import RESULTS, render_markdown, result_stem, update_page, write_result  # noqa: E402

from benchmark import make_project, nodes  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SIZES = (100, 300, 1115, 3345, 11150)
RUNNING = re.compile(r"Running node: (\S+?):? ")


def step_of(node: str) -> str:
    """A node's step, across boosters: ``lightgbm.fit_served`` -> ``fit_served``."""
    return node.rsplit(".", 1)[-1]


def dominant_step(run_nodes: list[dict[str, Any]], wall_s: float) -> dict[str, Any] | None:
    """The step (a node, summed over the boosters' namespaces) that takes most of the run."""
    if not run_nodes:
        return None
    steps: dict[str, float] = defaultdict(float)
    for node in run_nodes:
        steps[step_of(node["name"])] += node["seconds"]
    steps["start-up, dataset I/O, MLflow logging"] = wall_s - sum(steps.values())
    name, seconds = max(steps.items(), key=lambda item: item[1])
    return {"name": name, "seconds": round(seconds, 1), "share": seconds / wall_s}


def running_at_stop(output: str) -> str | None:
    """The node that had started and not finished when a run was stopped."""
    started = RUNNING.findall(output)
    finished = {node["name"].rsplit(".", 1)[-1] for node in nodes(output)}
    unfinished = [name for name in started if name.rsplit(".", 1)[-1] not in finished]
    return unfinished[-1] if unfinished else (started[-1] if started else None)


def count_rows(csv: Path) -> int:
    with csv.open("rb") as lines:
        return sum(1 for _ in lines) - 1


def plot(sizes: list[dict[str, Any]], path: Path) -> None:
    """Wall and CPU time, and peak RSS, against the number of stores (log-log, with linear)."""
    done = [s for s in sizes if s["run"]["returncode"] == 0 and not s["run"].get("stopped")]
    stopped = [s for s in sizes if s not in done]
    figure = Figure(figsize=(11, 4.2))
    FigureCanvasAgg(figure)
    time_axis, memory_axis = figure.subplots(1, 2)
    for axis, keys, unit, scale in (
        (time_axis, (("wall_s", "wall"), ("cpu_s", "CPU")), "seconds", 1.0),
        (memory_axis, (("peak_rss_mib", "peak RSS"),), "GiB", 1 / 1024),
    ):
        for key, label in keys:
            xs = [s["n_stores"] for s in done]
            ys = [s["run"][key] * scale for s in done]
            axis.plot(xs, ys, marker="o", label=f"`kedro run` {label}")
            if stopped:
                axis.scatter([s["n_stores"] for s in stopped],
                             [s["run"][key] * scale for s in stopped],
                             marker="x", s=80, color="red", label=f"{label} when stopped")  # fmt: skip
        if len(done) >= 1:
            anchor = max(done, key=lambda s: s["n_stores"])
            key = keys[0][0]
            xs = [s["n_stores"] for s in sizes]
            slope = anchor["run"][key] * scale / anchor["n_stores"]
            axis.plot(xs, [x * slope for x in xs], linestyle=":", color="grey",
                      label="linear in stores (through the largest finished run)")  # fmt: skip
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("stores (synthetic chain; 1,115 = Rossmann)")
        axis.set_ylabel(unit)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8)
    time_axis.set_title("time of `kedro run`")
    memory_axis.set_title("peak memory of `kedro run`")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    memory = machine()["memory_gib"]
    parser.add_argument("--max-rss-gib", type=float, default=max(memory - 3, 1))
    parser.add_argument("--timeout-s", type=float, default=3600)
    parser.add_argument("--keep", action="store_true", help="keep the temporary projects")
    parser.add_argument("--no-docs", "--no-readme", action="store_true", dest="no_docs",
                        help="do not refill docs/benchmarks.md")  # fmt: skip
    args = parser.parse_args()
    kedro = str(Path(sys.executable).with_name("kedro"))
    base = Path(tempfile.mkdtemp(prefix="rossmann-scale-"))
    commit, dirty = git_commit(ROOT)
    result: dict[str, Any] = {
        "schema": 1, "kind": "scale", "created": now_utc(), "commit": commit, "dirty": dirty,
        "command": "make benchmark-scale", "machine": machine(reference=True),
        "limits": {"max_rss_gib": args.max_rss_gib, "timeout_s": args.timeout_s},
        "data": {"description": f"synthetic chains of {', '.join(f'{n:,}' for n in args.sizes)} "
                 f"stores (ceiling {args.max_rss_gib:g} GiB resident, {args.timeout_s:.0f} s "
                 "per run)"},
        "sizes": [],
    }  # fmt: skip
    print(f"Scale benchmark in {base}", flush=True)
    limits = {"max_rss_gib": args.max_rss_gib, "timeout_s": args.timeout_s}
    for n_stores in sorted(args.sizes):
        project, env = make_project(base / str(n_stores), n_stores)
        synth = run_measured("kedro data synthesize", [kedro, "data", "synthesize"], project,
                             env, log=base / f"{n_stores}-synthesize.log", **limits)  # fmt: skip
        size: dict[str, Any] = {"n_stores": n_stores, "synthesize": synth.as_dict()}
        if not synth.ok:
            size["run"] = synth.as_dict()
            size["stopped_in"] = "kedro data synthesize"
        else:
            size["train_rows"] = count_rows(project / "data" / "01_raw" / "train.csv")
            run = run_measured("kedro run", [kedro, "run"], project, env,
                               log=base / f"{n_stores}-run.log", **limits)  # fmt: skip
            run_nodes = nodes(run.output)
            size["run"] = run.as_dict()
            size["nodes"] = run_nodes
            size["dominant"] = dominant_step(run_nodes, run.wall_s) if run.ok else None
            if not run.ok:
                size["stopped_in"] = running_at_stop(run.output)
                if not run.stopped:
                    size["error"] = run.output.strip().splitlines()[-1:]
        print(f"{n_stores:>6,} stores: {size['run']}", flush=True)
        result["sizes"].append(size)
        if not args.keep:
            shutil.rmtree(base / str(n_stores), ignore_errors=True)

    RESULTS.mkdir(parents=True, exist_ok=True)
    result["plot"] = f"{result_stem(result)}.png"
    plot(result["sizes"], RESULTS / result["plot"])
    path = write_result(result)
    print("\n" + render_markdown(result))
    print(f"Written: {path}, {path.with_suffix('.md')}, {RESULTS / result['plot']}")
    if not args.no_docs:
        update_page()
        print("docs/benchmarks.md: tables refilled (make benchmark-docs)")
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
