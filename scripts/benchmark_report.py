"""Benchmark results as Markdown, and the tables of docs/benchmarks.md regenerated from them.

``scripts/benchmark.py`` and ``scripts/benchmark_scale.py`` write each result twice, as
``benchmark/results/<date>-<commit>[-<label>].json`` (everything measured) and ``.md`` (this
module's rendering). ``docs/benchmarks.md`` holds one generated block per kind of result between
``<!-- benchmark:<kind> start -->`` and ``<!-- benchmark:<kind> end -->``; ``make
benchmark-docs`` (``python scripts/benchmark_report.py``) refills each block from the newest
result of its kind, so the published figures are never typed by hand. Links in a block are
relative to the page that holds it.

Kinds: ``synthetic`` (``make benchmark``: full-size synthetic data), ``real`` (``make benchmark
DATA=<folder of Kaggle files>``), ``scale`` (``make benchmark-scale``), ``rolling-synthetic``
and ``rolling-real`` (``make benchmark-rolling [DATA=...]``: the lifecycle at 8 forecast
origins, rendered by ``rolling_benchmark.render_body``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from rossmann_forecast.model.boosters import BOOSTERS

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmark" / "results"
PAGE = ROOT / "docs" / "benchmarks.md"
KINDS = ("synthetic", "real", "scale", "rolling-synthetic", "rolling-real")


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def _gib(mib: float | None) -> str:
    return "-" if mib is None else f"{mib / 1024:.2f} GiB"


def _steal(step: dict[str, Any]) -> str:
    value = step.get("steal_pct")
    return "-" if value is None else f"{value:.0f}%"


def _verdict(met: bool | None) -> str:
    return {True: "met", False: "**not met**", None: "-"}[met]


def _with_unit(text: str, unit: str) -> str:
    return f"{text}x" if unit == "x" else f"{text} {unit}".rstrip()


def _limit(target: dict[str, Any]) -> str:
    limit = _with_unit(f"{target['limit']:g}", target.get("unit", ""))
    return f"{target.get('op', '<=')} {limit}"


def _measured(target: dict[str, Any]) -> str:
    unit, value = target.get("unit", ""), target.get("value")
    if value is None:
        return "-"
    digits = 1 if unit == "s" and value >= 1 else 3 if unit == "s" else 2
    text = _with_unit(f"{value:.{digits}f}", unit)
    return f"{text} ({target['detail']})" if target.get("detail") else text


def reference_note(machine: dict[str, Any]) -> str:
    """How long the fixed reference fit took on the host before the runs
    (``_measure.reference_fit``), for telling a slower figure from a slower host; empty for a
    result recorded without it."""
    reference = machine.get("reference_fit")
    if not reference:
        return ""
    return (
        f"a reference LightGBM fit (the same work on every host: {reference['rows']:,} rows, "
        f"{reference['rounds']} rounds) took {reference['wall_s']:.2f} s, "
        f"{reference['cpu_s']:.2f} s CPU"
    )


def header(result: dict[str, Any]) -> str:
    """Which command, commit and machine a result comes from."""
    machine = result["machine"]
    versions = ", ".join(f"{name} {v}" for name, v in machine["versions"].items())
    dirty = " with uncommitted changes" if result.get("dirty") else ""
    load = "/".join(f"{x:g}" for x in machine["load_average_at_start"])
    reference = reference_note(machine)
    return (
        f"`{result['command']}` at commit `{result['commit']}`{dirty}, {result['created']}, on "
        f"{result['data']['description']}. Machine: {machine['cores']} cores, "
        f"{machine['memory_gib']:g} GiB ({machine['cpu']}), load average {load} at the start"
        f"{'; ' + reference if reference else ''}; Python {machine['python']}, {versions}."
    )


def steps_table(steps: list[dict[str, Any]]) -> list[str]:
    lines = ["| step | wall | CPU | peak RSS | host steal | |", "|---|---:|---:|---:|---:|---|"]
    for step in steps:
        note = step.get("stopped") or step.get("note", "")
        lines.append(
            f"| {step['name']} | {_seconds(step.get('wall_s'))} | {_seconds(step.get('cpu_s'))} "
            f"| {_gib(step.get('peak_rss_mib'))} | {_steal(step)} | {note} |"
        )
    return lines


def targets_table(targets: list[dict[str, Any]]) -> list[str]:
    lines = ["| what | measured | limit | |", "|---|---|---|---|"]
    for target in targets:
        lines.append(
            f"| {target['name']} | {_measured(target)} | {_limit(target)} "
            f"| {_verdict(target.get('met'))} |"
        )
    return lines


def accuracy_table(accuracy: dict[str, Any]) -> list[str]:
    """CV estimate vs the gate's holdout vs the cut days: ensemble, each booster, baseline."""
    # One column per booster of the table (a result without one shows "-").
    labels = " | ".join(b.label for b in BOOSTERS.values())
    lines = [
        f"| RMSPE (open days, Sales > 0) | ensemble | {labels} | median baseline | bias | rows |",
        "|---|---:|" + "---:|" * len(BOOSTERS) + "---:|---:|---:|",
    ]
    cv = accuracy.get("cv") or {}
    if cv:
        folds = ", ".join((accuracy.get("cv_folds") or {}).values())
        lines.append(
            f"| CV estimate (folds from {folds}) | {cv['rmspe_ensemble']:.4f} | "
            + " | ".join(f"{cv.get(f'rmspe_{m}', float('nan')):.4f}" for m in BOOSTERS)
            + f" | | {cv.get('bias_ensemble', float('nan')):+.2%} | |"
        )
    blocks = [("gate", "holdout: the gate's backtest from {origin}, through its pyfunc")]
    blocks.append(("cut", "{days} cut days: the served version from {origin}, through its pyfunc"))
    for key, label in blocks:
        block = accuracy.get(key)
        if not block:
            continue
        text = label.format(origin=block["origin"], days=accuracy.get("cut_days", 42))
        lines.append(
            f"| {text} | **{block['ensemble']:.4f}** | "
            + " | ".join(f"{block[m]:.4f}" if m in block else "-" for m in BOOSTERS)
            + f" | {block['median_baseline']:.4f} | {block['bias']:+.2%} | {block['rows']:,} |"
        )
    return lines


def calibration_table(accuracy: dict[str, Any]) -> list[str]:
    """The forecast quantiles on the holdout and the cut days, beside the naive interval."""
    lines = [
        "| P10-P90 interval | coverage | coverage by week of horizon | mean width / P50 "
        "| quantile loss (wQL) |",
        "|---|---:|---|---:|---:|",
    ]
    blocks = [("gate", "holdout (the gate's backtest)"),
              ("cut", f"{accuracy.get('cut_days', 42)} cut days (the served version)")]  # fmt: skip
    for key, label in blocks:
        block = accuracy.get(key) or {}
        for name, scores in (("calibrated bands", block.get("intervals")),
                             ("naive interval", block.get("naive_intervals"))):  # fmt: skip
            if not scores:
                continue
            weeks = sorted(
                (int(k.removeprefix("interval_coverage_week")), v)
                for k, v in scores.items()
                if k.startswith("interval_coverage_week")
            )
            by_week = " ".join(f"{v:.0%}" for _, v in weeks)
            lines.append(
                f"| {label}: {name} | {scores['interval_coverage']:.1%} | {by_week} | "
                f"{scores['interval_width']:.3f} | {scores['quantile_loss']:.4f} |"
            )
    return lines if len(lines) > 2 else []


def trade_table(result: dict[str, Any]) -> list[str]:
    """`kedro run` on the cut train.csv at each ``training.fit_rows.max_rows``: the trade."""
    days = (result.get("accuracy") or {}).get("cut_days", 42)
    lines = [
        "| `training.fit_rows.max_rows` | `kedro run` wall | CPU | peak RSS | host steal | "
        f"gate (holdout) RMSPE | {days} cut days RMSPE | bias |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in result["trade"]:
        rows = "all rows" if row["max_rows"] is None else f"{row['max_rows']:,}"
        rows += " (conf)" if row.get("configured") else ""
        lines.append(
            f"| {rows} | {_seconds(row['wall_s'])} | {_seconds(row['cpu_s'])} | "
            f"{_gib(row['peak_rss_mib'])} | {_steal(row)} | {row['gate']:.4f} | {row['cut']:.4f} | "
            f"{row['cut_bias']:+.2%} |"
        )
    return lines


def nodes_table(nodes: list[dict[str, Any]], total_s: float, top: int = 10) -> list[str]:
    lines = ["| node | seconds | share | peak RSS after it |", "|---|---:|---:|---:|"]
    for node in sorted(nodes, key=lambda n: -n["seconds"])[:top]:
        peak = node.get("peak_rss_gib")
        lines.append(
            f"| {node['name']} | {node['seconds']:.1f} | {node['seconds'] / total_s:.0%} | "
            f"{'-' if peak is None else f'{peak:.2f} GiB'} |"
        )
    in_nodes = sum(n["seconds"] for n in nodes)
    lines.append(
        f"| (start-up, dataset I/O, MLflow logging between nodes) | {total_s - in_nodes:.1f} | "
        f"{(total_s - in_nodes) / total_s:.0%} | |"
    )
    return lines


def scale_table(sizes: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| stores | train rows | `kedro data synthesize` | `kedro run` wall | CPU | peak RSS | "
        "host steal | dominant step | |",
        "|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for size in sizes:
        run = size.get("run") or {}
        synth = size.get("synthesize") or {}
        dominant = size.get("dominant")
        dominant_text = f"{dominant['name']} ({dominant['share']:.0%})" if dominant else "-"
        status = run.get("stopped") or ("" if run.get("returncode", 0) == 0 else "failed")
        if size.get("stopped_in"):
            status += f"; stopped in {size['stopped_in']}"
        lines.append(
            f"| {size['n_stores']:,} | {size.get('train_rows', 0):,} | "
            f"{_seconds(synth.get('wall_s'))} | {_seconds(run.get('wall_s'))} | "
            f"{_seconds(run.get('cpu_s'))} | {_gib(run.get('peak_rss_mib'))} | {_steal(run)} "
            f"| {dominant_text} | {status} |"
        )
    return lines


def render_body(result: dict[str, Any], level: str = "###") -> list[str]:
    """The tables of one result (no title): what both the .md file and the page show."""
    if result["kind"].startswith("rolling"):
        # Imported here: rolling_benchmark imports this module.
        from rolling_benchmark import render_body as rolling_body  # noqa: PLC0415

        return rolling_body(result, level)
    lines = [header(result), ""]
    if result["kind"] == "scale":
        lines += scale_table(result["sizes"])
        if result.get("plot"):
            lines += ["", f"![cost by chain size]({result['plot']})"]
        for note in result.get("notes", []):
            lines += ["", note]
        return lines
    if result.get("targets"):
        lines += [f"{level} Targets", "", *targets_table(result["targets"]), ""]
    if result.get("accuracy"):
        lines += [f"{level} Accuracy", "", *accuracy_table(result["accuracy"]), ""]
        calibration = calibration_table(result["accuracy"])
        if calibration:
            lines += [f"{level} Forecast quantiles", "", *calibration,
                      "", "The naive interval: each store's empirical P10/P50/P90 of sales by "
                      "weekday and promo over the rows the model saw.", ""]  # fmt: skip
    if result.get("trade"):
        lines += [f"{level} Time against accuracy", "", *trade_table(result), ""]
    lines += [f"{level} Steps", "", *steps_table(result["steps"]), ""]
    run = next((s for s in result["steps"] if s.get("nodes")), None)
    if run is not None:
        lines += [
            f"{level} Where the time of `{run['name']}` goes",
            "",
            *nodes_table(run["nodes"], run["wall_s"]),
            "",
        ]
    if result.get("commands"):
        lines += [f"{level} Commands people type", "", *commands_table(result["commands"]), ""]
    return lines


def commands_table(commands: dict[str, Any]) -> list[str]:
    lines = [
        f"{commands.get('versions', 50)} versions registered; medians of "
        f"{commands.get('repeats', '?')} runs of each, interleaved.",
        "",
        "| command | wall (median) | CPU | peak RSS | vs bare imports |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, figures in commands.get("commands", {}).items():
        ratio = figures.get("ratio")
        lines.append(
            f"| `{name}` | {figures['wall_s']:.2f} s | {figures.get('cpu_s', 0):.2f} s | "
            f"{_gib(figures.get('peak_rss_mib'))} | {'-' if ratio is None else f'{ratio:.2f}x'} |"
        )
    in_process = commands.get("in_process", {})
    if in_process:
        lines += ["", "| in-process registry operation | median | slowest |", "|---|---:|---:|"]
        for name, figures in in_process.items():
            lines.append(
                f"| {name} | {figures['median_s'] * 1000:.0f} ms | {figures['max_s'] * 1000:.0f} ms |"
            )
    return lines


def render_markdown(result: dict[str, Any]) -> str:
    if result["kind"].startswith("rolling"):
        from rolling_benchmark import render_markdown as rolling_markdown  # noqa: PLC0415

        return rolling_markdown(result)
    title = {"synthetic": "full-size synthetic data", "real": "Kaggle files",
             "scale": "cost by chain size"}[result["kind"]]  # fmt: skip
    return "\n".join([f"# Benchmark: {title}", "", *render_body(result, "##")]).rstrip() + "\n"


def result_stem(result: dict[str, Any]) -> str:
    day = result["created"][:10]
    label = {"synthetic": "", "real": "-" + result["data"].get("label", "real"),
             "scale": "-scale", "rolling-synthetic": "-rolling-synthetic",
             "rolling-real": "-rolling-" + result["data"].get("label", "real"),
             }[result["kind"]] + (f"-{result['label']}" if result.get("label") else "")  # fmt: skip
    return f"{day}-{result['commit']}{label}"


def write_result(result: dict[str, Any], directory: Path = RESULTS) -> Path:
    """Write ``<stem>.json`` and ``<stem>.md``; returns the JSON path."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = result_stem(result)
    path = directory / f"{stem}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    (directory / f"{stem}.md").write_text(render_markdown(result))
    return path


def latest(kind: str, directory: Path = RESULTS) -> tuple[Path, dict[str, Any]] | None:
    """The newest headline result of ``kind`` (by its ``created`` time), or None.

    A run with settings of its own (a row cap forced, fewer origins, parts skipped) records
    ``"headline": false``: it stays in the results as the measurement it is, but it never
    stands in for the project's figures on the page.
    """
    found = []
    for path in directory.glob("*.json"):
        result = json.loads(path.read_text())
        if result.get("kind") == kind and result.get("headline", True):
            found.append((result["created"], path, result))
    if not found:
        return None
    _, path, result = max(found, key=lambda item: item[0])
    return path, result


def _link(target: Path, base: Path) -> str:
    """``target`` as a link from a page in the folder ``base``."""
    return Path(os.path.relpath(target, base)).as_posix()


def block(kind: str, path: Path, result: dict[str, Any], base: Path) -> str:
    """The generated block of one result, its links relative to ``base`` (the page's folder)."""
    relative, md = _link(path, base), _link(path.with_suffix(".md"), base)
    lines = render_body(result, "###")
    if result.get("plot"):
        plot = _link(path.parent / result["plot"], base)
        lines = [line.replace(f"]({result['plot']})", f"]({plot})") for line in lines]
    lines += ["", f"Generated from [`{relative}`]({relative}) ([as a page]({md})) by "
              "`make benchmark-docs`; do not edit between the markers."]  # fmt: skip
    return "\n".join(lines).rstrip()


def update_page(page: Path = PAGE, directory: Path = RESULTS) -> list[str]:
    """Refill each block of ``page`` from the newest result of its kind; returns the kinds filled.

    Raises:
        ValueError: The page lacks a block's markers, or holds them in the wrong order.
    """
    text = page.read_text()
    filled = []
    for kind in KINDS:
        start, end = f"<!-- benchmark:{kind} start -->", f"<!-- benchmark:{kind} end -->"
        if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
            raise ValueError(f"{page} must hold {start} ... {end} once, in that order")
        found = latest(kind, directory)
        if found is None:
            continue
        content = block(kind, *found, base=page.resolve().parent)
        pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
        text = pattern.sub(lambda _, new=f"{start}\n{content}\n{end}": new, text)
        filled.append(kind)
    page.write_text(text)
    return filled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # --readme: the option's name from when the blocks lived in the README
    parser.add_argument("--page", "--readme", type=Path, default=PAGE, dest="page",
                        help="the Markdown file holding the blocks (default: docs/benchmarks.md)")  # fmt: skip
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    try:
        filled = update_page(args.page, args.results)
    except ValueError as error:
        sys.exit(str(error))
    print(
        f"{args.page}: benchmark blocks refilled from {args.results}: {', '.join(filled) or 'none'}"
    )


if __name__ == "__main__":
    main()
