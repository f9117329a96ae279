"""Rolling-origin benchmark of the whole lifecycle: is the gate's number what users then get?

At each of ``--origins`` forecast origins (default 8, every ``--step-days`` = 42 days, the last
one 42 days before the data's end, so Christmas and Easter fall in some window), in one
throwaway project with its own MLflow registry, oldest origin first:

1. everything on or after the origin is cut off: ``train.csv`` holds the days before it and
   ``test.csv`` the ``--horizon`` (42) days after it, in the Kaggle test format;
2. the real ``kedro run`` (data -> training -> registration -> gate) runs on that;
3. the version it registered forecasts the 42 days after the origin through its pyfunc (what a
   user who deploys it gets), next to the per-(Store, DayOfWeek, Promo) median baseline fitted
   on the days before the origin;
4. a version the gate sent to Staging is promoted to Production (``kedro model promote``, the
   human decision), so the next origin's gate compares its candidate with it, as in real use.

Per origin: the gate's figure and verdict, the CV estimate, the realised RMSPE and bias, the
median baseline and the skill (realised / baseline). Over origins: mean and worst realised
RMSPE and how far the gate's figure was from what was realised. Over all forecast rows: RMSPE
by segment (``rossmann_forecast.segments``). Written to
``benchmark/results/<date>-<commit>-rolling[-<label>].json`` and ``.md``, with a plot of realised
vs gate per origin.

Usage: ``python scripts/rolling_benchmark.py [--data DIR] [--origins 8] [--n-stores 1115]``
(``make benchmark-rolling DATA=../shared/realdata-dev``). Without ``--data`` the synthetic
default is generated once (``kedro data synthesize``) and cut the same way.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import yaml  # noqa: E402

from rossmann_forecast.model.boosters import MEMBERS  # noqa: E402
from rossmann_forecast.pipelines.validation.estimate import (  # noqa: E402
    HOLDOUT,
    PRODUCTION_COMPARISONS,
    SEASON,
    alternatives,
    configured_method,
    season_change,
    store_spread,
)
from rossmann_forecast.raw.synthetic import TEST_COLUMNS  # noqa: E402
from rossmann_forecast.registry.stages import GATE_METRIC  # noqa: E402
from rossmann_forecast.segments import (  # noqa: E402
    concentration_text,
    error_concentration,
    label_segments,
    segment_table,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import git_commit, machine, now_utc, run_measured  # noqa: E402
from benchmark_report import (  # noqa: E402
    reference_note,
    result_stem,
    update_page,
    write_result,
)

from benchmark import KAGGLE_FILES, make_project  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmark" / "results"
# The targets for this benchmark (benchmark figures, never timed tests).
TARGETS = {
    "max_skill": 0.60,
    "gate_mean_abs_error": 0.10,
    "gate_max_flattery": 0.15,
    "coverage": (0.70, 0.90),
}  # the P10-P90 interval, at every origin (issue 23)


def read_train(path: Path) -> pd.DataFrame:
    train = pd.read_csv(path, dtype={"StateHoliday": str}, keep_default_na=False)
    return train.assign(Date=pd.to_datetime(train["Date"]))


def forecast_origins(last_date: pd.Timestamp, count: int, step: int, horizon: int) -> list:
    """``count`` origins ``step`` days apart, oldest first; the newest leaves ``horizon`` days."""
    newest = last_date + pd.Timedelta(days=1) - pd.Timedelta(days=horizon)
    return [newest - pd.Timedelta(days=step * k) for k in reversed(range(count))]


def cut_at(train: pd.DataFrame, source: Path, raw: Path, origin: pd.Timestamp, horizon: int,
           window_csv: Path) -> int:  # fmt: skip
    """Write train.csv (days before ``origin``), test.csv (the ``horizon`` days after, without
    Sales) and store.csv into ``raw``; the window's rows with Sales go to ``window_csv``."""
    end = origin + pd.Timedelta(days=horizon)
    before = train.loc[train["Date"] < origin]
    window = train.loc[(train["Date"] >= origin) & (train["Date"] < end)]
    raw.mkdir(parents=True, exist_ok=True)
    fmt = {"date_format": "%Y-%m-%d", "index": False}
    before.to_csv(raw / "train.csv", **fmt)
    test = window.sort_values(["Date", "Store"], ascending=[False, True]).reset_index(drop=True)
    test = test.assign(Id=np.arange(1, len(test) + 1))
    test[list(TEST_COLUMNS)].to_csv(raw / "test.csv", **fmt)
    shutil.copy2(source / "store.csv", raw / "store.csv")
    window.to_csv(window_csv, **fmt)
    return len(window)


def kedro_step(kedro: str, args: list[str], project: Path, env: dict[str, str], log: Path,
               name: str) -> Any:  # fmt: skip
    result = run_measured(name, [kedro, *args], project, env, log=log)
    if not result.ok:
        print(result.output[-4000:])
        sys.exit(f"kedro {' '.join(args)} failed with exit code {result.returncode} (log: {log})")
    return result


def score_version(project: Path, env: dict[str, str], window_csv: Path, rows_out: Path,
                  production: int | None = None) -> dict:  # fmt: skip
    """The new version (and, with ``production``, that version too) on the window's days."""
    also = ["--also-version", str(production)] if production else []
    completed = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "_accuracy.py"), "--cut-days", str(window_csv),
         "--rows-out", str(rows_out), *also],
        cwd=project, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if completed.returncode != 0:
        print(completed.stdout[-3000:], completed.stderr[-3000:])
        sys.exit("scripts/_accuracy.py failed")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def gate_of(project: Path) -> dict[str, Any]:
    """The gate's verdict and report as the run wrote them (data/08_reporting)."""
    reporting = project / "data" / "08_reporting"
    verdict = json.loads((reporting / "gate_status.json").read_text())
    report = json.loads((reporting / "validation_report.json").read_text())
    return {"verdict": verdict, "report": report}


def gate_figure(gate: dict[str, Any]) -> float:
    """The number the gate compared with its threshold (the estimate where there is one)."""
    verdict = gate["verdict"]
    return float(verdict.get("estimate_rmspe", verdict.get(GATE_METRIC)))


def _validation_conf() -> dict[str, Any]:
    """The gate's settings as conf/base gives them (the rule the benchmark recomputes)."""
    return yaml.safe_load((ROOT / "conf/base/parameters_validation.yml").read_text())["validation"]


def estimates(
    windows: list[dict[str, Any]] | None, cv: float | None, first_date: str | None = None
) -> dict[str, float] | None:
    """Each of the gate's ways of estimating the next weeks from its recorded windows, and CV.

    ``conf`` is what conf/base's ``validation`` settings give, as the gate decides it
    (``configured_method``): the holdout alone when the forecast's weeks are the holdout's
    season, else ``validation.estimate``, or ``estimate_fallback`` where the forecast-weeks fold
    had less than a year of data before it (train.csv's first day is ``first_date``).
    """
    if not windows:
        return None
    validation = _validation_conf()
    result = alternatives(windows, validation.get("baseline_ratio_exponent"))
    season = next((w for w in windows if w["name"] == SEASON), None)
    lag = pd.Timedelta(days=validation["season_lag_days"])
    unlearnt = (
        season is not None
        and first_date is not None
        and (pd.Timestamp(season["start"]) - lag < pd.Timestamp(first_date))
    )
    method, _ = configured_method(
        windows,
        validation["estimate"],
        validation["estimate_fallback"],
        unlearnt,
        validation.get("season_change_factor"),
    )
    return {**result, "conf": result[method], "cv": cv}


def origin_record(origin: pd.Timestamp, scores: dict, gate: dict, promoted: bool,
                  production: int | None, wall_s: float,
                  first_date: str | None = None) -> dict[str, Any]:  # fmt: skip
    cut = scores["cut"]
    verdict = gate["verdict"]
    figure = gate_figure(gate)
    realised = float(cut["ensemble"])
    production_cut = scores.get("production_cut")
    served = realised if promoted else (
        float(production_cut["ensemble"]) if production_cut else None)  # fmt: skip
    return {
        "origin": str(origin.date()),
        "version": scores["version"],
        "production_before": production,
        "gate_figure": figure,
        "gate_holdout_rmspe": float(verdict.get(GATE_METRIC, np.nan)),
        "gate_passed": bool(verdict["passed"]),
        "gate_reason": verdict.get("reason"),
        "gate_windows": verdict.get("windows"),
        "gate_method": verdict.get("estimate_method"),
        "promoted": promoted,
        "cv_rmspe": scores["cv"].get("rmspe_ensemble"),
        "cv_folds": {k: v for k, v in scores["cv"].items() if k.startswith("rmspe_ensemble_")},
        "realised_rmspe": realised,
        # What users got over the window: the new version if promoted, else the Production
        # version it left serving (None before the first promotion).
        "served_version": scores["version"] if promoted else production,
        "served_rmspe": served,
        "production_rmspe": float(production_cut["ensemble"]) if production_cut else None,
        # The gate's comparison with Production on the holdout, as forecast and rescaled.
        "gate_vs_production": _gate_vs_production(gate.get("report")),
        "realised_bias": float(cut["bias"]),
        "members": {k: cut[k] for k in MEMBERS if k in cut},
        "baseline_rmspe": float(cut["median_baseline"]),
        "skill": realised / float(cut["median_baseline"]),
        "gate_error": (figure - realised) / realised,
        # Where the gate said the next weeks would likely land (validation.estimate_range).
        **_likely_range(verdict.get("estimate_range"), realised),
        # Every way of making the gate's figure, from the same windows (validation.estimate).
        "estimates": estimates(
            verdict.get("windows"), scores["cv"].get("rmspe_ensemble"), first_date
        ),
        "rows": cut["rows"],
        "run_wall_s": round(wall_s, 1),
        # The forecast quantiles on the same days (None for a version without them).
        "intervals": cut.get("intervals"),
        "naive_intervals": cut.get("naive_intervals"),
        "gate_intervals": (verdict.get("intervals") or {}).get("scores"),
    }


def _likely_range(likely: dict[str, Any] | None, realised: float) -> dict[str, Any]:
    """The gate's likely range and whether what was realised fell in it (None without one)."""
    if not likely:
        return {"gate_range": None, "realised_in_range": None, "gate_range_store_spread": None,
                "gate_range_widened": None}  # fmt: skip
    low, high = float(likely["low"]), float(likely["high"])
    return {
        "gate_range": [low, high],
        "realised_in_range": bool(low <= realised <= high),
        # The holdout RMSPE's spread over stores, and whether the range widened for a chain
        # of fewer stores than its factors were measured on (validation.estimate_range_stores).
        "gate_range_store_spread": likely.get("store_spread"),
        "gate_range_widened": likely.get("widened_factors", likely.get("factors"))
        != likely.get("factors"),
    }


def _gate_vs_production(report: dict[str, Any] | None) -> dict[str, float] | None:
    """Candidate and Production on the gate's holdout: RMSPE as forecast and rescaled, and the
    comparison with the stores resampled (None where the gate compared the figures as is)."""
    if not report or not report.get("production"):
        return None
    ours, theirs = report["metrics"], report["production"]["metrics"]
    rescaled = PRODUCTION_COMPARISONS["rescaled"]  # the gate's own metric name
    return {
        "candidate": ours[GATE_METRIC],
        "production": theirs[GATE_METRIC],
        "candidate_rescaled": ours.get(rescaled),
        "production_rescaled": theirs.get(rescaled),
        "resampled": report["production"].get("comparison"),
    }


def summary(origins: list[dict[str, Any]]) -> dict[str, Any]:
    realised = np.array([o["realised_rmspe"] for o in origins])
    errors = np.array([o["gate_error"] for o in origins])
    skill = np.array([o["skill"] for o in origins])
    return {
        "origins": len(origins),
        "mean_realised_rmspe": float(realised.mean()),
        "worst_realised_rmspe": float(realised.max()),
        "worst_origin": origins[int(realised.argmax())]["origin"],
        "mean_baseline_rmspe": float(np.mean([o["baseline_rmspe"] for o in origins])),
        "mean_skill": float(skill.mean()),
        "worst_skill": float(skill.max()),
        "gate_mean_abs_error": float(np.abs(errors).mean()),
        "gate_mean_error": float(errors.mean()),
        # Flattery: the gate's figure below what was realised, as a share of realised.
        "gate_max_flattery": float(max(0.0, -errors.min())),
        "gate_passed": int(sum(o["gate_passed"] for o in origins)),
        # Origins whose gate gave a likely range, and how many realised figures fell in it.
        "range_origins": sum(o.get("realised_in_range") is not None for o in origins),
        "range_hits": sum(bool(o.get("realised_in_range")) for o in origins),
        # ... and how many of those ranges were widened for a chain of fewer stores.
        "range_widened": sum(bool(o.get("gate_range_widened")) for o in origins),
        **_served_summary(origins),
        "last_window_rmspe": float(realised[-1]),
        "estimates": _estimate_errors(origins, realised),
        "season_exponents": season_exponents(origins),
        **_coverage_summary(origins),
    }


def season_exponents(origins: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Where the season changed (``validation.season_change_factor``), the power of the median
    baseline's ratio that would have carried the holdout's figure to what was realised: what
    ``validation.baseline_ratio_exponent`` stands for, measured on this data."""
    factor = _validation_conf().get("season_change_factor")
    found = []
    for o in origins:
        windows = o.get("gate_windows")
        change = season_change(windows, factor) if windows else None
        if change is None or not change["changes"]:
            continue
        holdout = next(w["rmspe"] for w in windows if w["name"] == HOLDOUT)
        found.append({
            "origin": o["origin"],
            "ratio": change["ratio"],
            "exponent": float(np.log(o["realised_rmspe"] / holdout) / np.log(change["ratio"])),
        })  # fmt: skip
    return found


def _served_summary(origins: list[dict[str, Any]]) -> dict[str, Any]:
    """What users were served over the origins, and how many verdicts against the Production
    version the next 42 days bore out: a promotion is right when the candidate then did at
    least as well as the version it replaced, a rejection when it did worse."""
    served = [o["served_rmspe"] for o in origins if o.get("served_rmspe") is not None]
    compared = [o for o in origins if o.get("production_rmspe") is not None]
    rejected = [o for o in compared if not o["promoted"]]
    promoted = [o for o in compared if o["promoted"]]
    return {
        "mean_served_rmspe": float(np.mean(served)) if served else None,
        "served_origins": len(served),
        "verdicts_compared": len(compared),
        # A rejection that left a worse version serving than the one it turned away.
        "costly_rejections": int(
            sum(o["realised_rmspe"] < o["production_rmspe"] for o in rejected)
        ),
        # A promotion that replaced a version that would have done better.
        "costly_promotions": int(
            sum(o["realised_rmspe"] > o["production_rmspe"] for o in promoted)
        ),
    }


def _coverage_summary(origins: list[dict[str, Any]]) -> dict[str, Any]:
    """The P10-P90 coverage over origins: lowest and highest, and the quantile loss's mean."""
    covered = [o["intervals"] for o in origins if o.get("intervals")]
    if len(covered) < len(origins):
        return {}
    coverage = [c["interval_coverage"] for c in covered]
    loss = np.mean([c["quantile_loss"] for c in covered])
    naive = np.mean([o["naive_intervals"]["quantile_loss"] for o in origins])
    return {"min_coverage": float(min(coverage)), "max_coverage": float(max(coverage)),
            "mean_coverage": float(np.mean(coverage)), "mean_quantile_loss": float(loss),
            "mean_naive_quantile_loss": float(naive)}  # fmt: skip


def _estimate_errors(origins: list[dict[str, Any]], realised: np.ndarray) -> dict | None:
    """Mean absolute error and worst flattery of each way of making the gate's figure."""
    if not all(o.get("estimates") for o in origins):
        return None
    result = {}
    for method in origins[0]["estimates"]:
        errors = np.array([o["estimates"][method] for o in origins]) / realised - 1
        result[method] = {"mae": float(np.abs(errors).mean()), "mean": float(errors.mean()),
                          "flattery": float(max(0.0, -errors.min()))}  # fmt: skip
    return result


def segments(rows: pd.DataFrame, source: Path, train: pd.DataFrame) -> list[dict[str, Any]]:
    """RMSPE by segment over every origin's forecast rows (rossmann_forecast.segments)."""

    stores = pd.read_csv(source / "store.csv", dtype={"StateHoliday": str})
    calendar = train[["Store", "Date", "Open", "StateHoliday"]]
    labelled = label_segments(rows, stores, calendar)
    return segment_table(labelled, baseline="baseline").to_dict(orient="records")


def plot(origins: list[dict[str, Any]], path: Path, title: str) -> None:
    """Realised, gate, CV and baseline RMSPE per origin, with the gate's verdicts."""

    labels = [o["origin"] for o in origins]
    x = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(9, 4.2))
    ax.plot(x, [o["realised_rmspe"] for o in origins], "o-", label="realised (next 42 days)")
    ax.plot(x, [o["gate_figure"] for o in origins], "s--", label="gate's figure")
    ax.plot(x, [o["cv_rmspe"] for o in origins], "^:", label="CV estimate")
    ax.plot(x, [o["baseline_rmspe"] for o in origins], "x-", color="grey", alpha=0.6,
            label="median baseline")  # fmt: skip
    for i, o in enumerate(origins):
        ax.annotate("pass" if o["gate_passed"] else "reject", (x[i], o["gate_figure"]),
                    textcoords="offset points", xytext=(0, 6), ha="center", fontsize=7)  # fmt: skip
    ax.set_xticks(x, labels, rotation=30, ha="right")
    ax.set_ylabel("RMSPE")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _f(value: Any, digits: int = 4) -> str:
    return "-" if value is None or (isinstance(value, float) and np.isnan(value)) else (
        f"{value:.{digits}f}")  # fmt: skip


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _served_sentence(s: dict[str, Any]) -> str:
    """What users were served over the origins (older results did not record it)."""
    if s.get("mean_served_rmspe") is None:
        return ""
    text = (
        f" What users were served (the candidate where it was promoted, else the Production "
        f"version it left serving): mean {s['mean_served_rmspe']:.4f} over the "
        f"{s['served_origins']} origins with a version in Production"
    )
    if s.get("verdicts_compared"):
        right = s["verdicts_compared"] - s["costly_rejections"] - s["costly_promotions"]
        text += (
            f". Of {s['verdicts_compared']} verdicts against a Production version, the next 42 "
            f"days bore out {right}: {s['costly_promotions']} promotion(s) replaced a version "
            f"that then did better, {s['costly_rejections']} rejection(s) kept serving a "
            "version that then did worse"
        )
    return text + "."


def _range_sentence(s: dict[str, Any]) -> str:
    """How often what was realised fell in the gate's likely range (older results: nothing)."""
    if not s.get("range_origins"):
        return ""
    widened = (
        f", widened at {s['range_widened']} for fewer stores than its factors were measured on "
        "by `validation.estimate_range_stores`"
        if s.get("range_widened")
        else ""
    )
    return (
        " What was realised fell within the gate's likely range (`validation.estimate_range`"
        f"{widened}) at {s['range_hits']} of {s['range_origins']} origins."
    )


def _gate_cell(o: dict[str, Any]) -> str:
    """The gate's figure, and its likely range where it gave one: ``0.0950 (0.0760-0.1140)``."""
    likely = o.get("gate_range")
    cell = _f(o["gate_figure"])
    return cell if not likely else f"{cell} ({likely[0]:.4f}-{likely[1]:.4f})"


def _served_cell(o: dict[str, Any]) -> str:
    """The version that served the window and its RMSPE there (and Production's, if not it)."""
    if o.get("served_version") is None or o.get("served_rmspe") is None:
        return "-"
    cell = f"v{o['served_version']}: {o['served_rmspe']:.4f}"
    if o.get("production_rmspe") is not None and o["promoted"]:
        cell += f" (v{o['production_before']}: {o['production_rmspe']:.4f})"
    return cell


def _reference(machine: dict[str, Any]) -> str:
    note = reference_note(machine)
    return f"; {note}" if note else ""


def render_body(result: dict[str, Any], level: str = "##") -> list[str]:
    """The per-origin table, the verdicts, the plot, the segments and the targets (no title)."""
    s = result["summary"]
    lines = [
        f"`{result['command']}` at commit `{result['commit']}`"
        f"{' with uncommitted changes' if result['dirty'] else ''}, {result['created']}, on "
        f"{result['data']['description']}: {s['origins']} origins every {result['step_days']} "
        f"days, {result['horizon_days']} days forecast from each, "
        f"{result['wall_s'] / 60:.1f} min on {result['machine']['cores']} cores"
        f"{_reference(result['machine'])}.", "",
        f"**Mean realised RMSPE over origins: {s['mean_realised_rmspe']:.4f}** (worst "
        f"{s['worst_realised_rmspe']:.4f} from {s['worst_origin']}; median baseline "
        f"{s['mean_baseline_rmspe']:.4f}; skill mean {s['mean_skill']:.3f}, worst "
        f"{s['worst_skill']:.3f}). The gate's figure against what was realised: mean absolute "
        f"error {s['gate_mean_abs_error']:.1%}, mean {s['gate_mean_error']:+.1%}, worst "
        f"flattery {s['gate_max_flattery']:.1%}. Gate passed {s['gate_passed']} of "
        f"{s['origins']}.{_range_sentence(s)}{_served_sentence(s)}", "",
        f"{level} Per origin", "",
        "| origin | version | gate's figure | verdict | Production before | CV | realised | bias "
        "| baseline | skill | gate vs realised | served |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]  # fmt: skip
    for o in result["origins"]:
        verdict = "Staging" + (", promoted" if o["promoted"] else "") if o["gate_passed"] else (
            "rejected")  # fmt: skip
        lines.append(
            f"| {o['origin']} | {o['version']} | {_gate_cell(o)} | {verdict} | "
            f"{o['production_before'] or '-'} | {_f(o['cv_rmspe'])} | {_f(o['realised_rmspe'])} | "
            f"{o['realised_bias']:+.2%} | {_f(o['baseline_rmspe'])} | {o['skill']:.3f} | "
            f"{o['gate_error']:+.1%} | {_served_cell(o)} |"
        )
    recorded = [o.get("estimates") for o in result["origins"]]
    if all(recorded):
        methods = list(recorded[0])
        lines += ["", f"{level} The gate's estimate, made each way", "",
                  "Each way of making the gate's figure from the same windows, against what "
                  "was realised (signed error; flattery is a negative one):", "",
                  "| origin | realised | " + " | ".join(methods) + " |",
                  "|---|---:|" + "---:|" * len(methods)]  # fmt: skip
        for o in result["origins"]:
            cells = [f"{o['estimates'][m]:.4f} ({(o['estimates'][m] / o['realised_rmspe'] - 1):+.0%})"
                     for m in methods]  # fmt: skip
            lines.append(
                f"| {o['origin']} | {o['realised_rmspe']:.4f} | " + " | ".join(cells) + " |"
            )
        for name, row in (("mean absolute error", "mae"), ("worst flattery", "flattery")):
            cells = [f"{s['estimates'][m][row]:.1%}" for m in methods]
            lines.append(f"| {name} | | " + " | ".join(cells) + " |")
        if s.get("season_exponents"):
            found = ", ".join(f"{e['origin']} (ratio {e['ratio']:.2f}): {e['exponent']:.2f}"
                              for e in s["season_exponents"])  # fmt: skip
            lines += ["", "Where the season changed (the median baseline's ratio beyond "
                      "`validation.season_change_factor` either way), the power of that ratio "
                      "that would have carried the holdout's figure to what was realised, "
                      f"against `validation.baseline_ratio_exponent`: {found}."]  # fmt: skip
    if all(o.get("intervals") for o in result["origins"]):
        lines += ["", f"{level} Forecast quantiles per origin", "",
                  "The P10-P90 interval of the served version on the days it forecast, and the "
                  "backtest's on the holdout the gate scored; the naive interval is each "
                  "store's empirical quantiles by weekday and promo:", "",
                  "| origin | coverage | by week of horizon | width / P50 | quantile loss | "
                  "naive coverage | naive loss | gate's holdout coverage |",
                  "|---|---:|---|---:|---:|---:|---:|---:|"]  # fmt: skip
        for o in result["origins"]:
            c, n, g = o["intervals"], o["naive_intervals"], o.get("gate_intervals") or {}
            weeks = " ".join(
                f"{c[k]:.0%}" for k in sorted(c) if k.startswith("interval_coverage_w")
            )
            lines.append(
                f"| {o['origin']} | {c['interval_coverage']:.1%} | {weeks} | "
                f"{c['interval_width']:.3f} | {c['quantile_loss']:.4f} | "
                f"{n['interval_coverage']:.1%} | {n['quantile_loss']:.4f} | "
                f"{_pct(g.get('interval_coverage'))} |"
            )
    lines += _concentration_lines(result["origins"], level)
    lines += ["", "Why each verdict:", ""]
    lines += [f"- {o['origin']}: {o['gate_reason']}" for o in result["origins"]]
    if result.get("plot"):
        lines += ["", f"![realised vs gate per origin]({result['plot']})"]
    banded = all("coverage" in r for r in result["segments"])
    lines += ["", f"{level} By segment", "",
              "RMSPE by segment over every forecast day of every origin (skill: RMSPE / the "
              "median baseline's on the same rows)"
              + (", and the share of the segment's store-days inside the served versions' "
                 "P10-P90 band with its mean width / P50 (a band that holds 80% overall can "
                 "under-cover the hard days and over-cover the easy ones):" if banded else ":"),
              "",
              "| segmentation | segment | rows | RMSPE | bias | baseline | skill |"
              + (" P10-P90 coverage | width |" if banded else ""),
              "|---|---|---:|---:|---:|---:|---:|" + ("---:|---:|" if banded else "")]  # fmt: skip
    for r in result["segments"]:
        lines.append(
            f"| {r['segmentation']} | {r['segment']} | {r['rows']:,} | {r['rmspe']:.4f} | "
            f"{r['bias']:+.2%} | {r['baseline_rmspe']:.4f} | {r['skill']:.3f} |"
            + (f" {r['coverage']:.1%} | {r['width']:.3f} |" if banded else "")
        )
    t = result["targets"]
    lines += ["", "Targets: " + "; ".join(
        f"{name} {_f(v['value'], 3)} (limit {v['limit']}): {'met' if v['met'] else 'NOT met'}"
        for name, v in t.items()) + "."]  # fmt: skip
    return lines


def _concentration_lines(origins: list[dict[str, Any]], level: str) -> list[str]:
    """Per origin, the stores that carry most of the window's squared percentage error and
    the window without the worst of them (none for results saved before it was recorded)."""
    if not all(o.get("error_concentration") for o in origins):
        return []
    lines = ["", f"{level} Where each window's error is", "",
             "The stores that cost most (share of the window's summed squared percentage "
             "error, their bias), and the window without the worst one: a store whose sales "
             "moved for a reason the data does not hold weighs on RMSPE far beyond its share "
             "of the rows. A diagnosis, not a figure to judge by: every figure above keeps "
             "every store.", "",
             "| origin | stores | realised | skill | costliest stores | without the worst | "
             "its skill | spread over stores: holdout, window |",
             "|---|---:|---:|---:|---|---:|---:|---|"]  # fmt: skip
    for o in origins:
        c = o["error_concentration"]
        top = concentration_text(c["top"])
        without = c["without_worst"]
        lines.append(
            f"| {o['origin']} | {c['stores']} | {c['rmspe']:.4f} | {_f(c.get('skill'), 3)} | "
            f"{top} | {without['rmspe']:.4f} | {_f(without.get('skill'), 3)} | "
            f"{_f(o.get('gate_range_store_spread'), 3)}, {_f(c.get('store_spread'), 3)} |"
        )
    shares = [o["error_concentration"]["top"][0]["share"] for o in origins]
    lines += ["", f"The worst store carried {min(shares):.1%} to {max(shares):.1%} of a "
              "window's squared error. The spread over stores is RMSPE's relative standard "
              "error over a draw of as many stores (the delta method), of the holdout the "
              "gate saw and of the window that came: where the window's is much the larger, "
              "a few stores carried error after the origin that the holdout did not "
              "hold."]  # fmt: skip
    return lines


def render_markdown(result: dict[str, Any]) -> str:
    title = f"# Rolling-origin benchmark: {result['data']['description']}"
    return "\n".join([title, "", *render_body(result)]) + "\n"


# The settings whose results are the project's figures (README, docs/benchmarks.md).
DEFAULTS = {"n_stores": 1115, "origins": 8, "step_days": 42, "horizon": 42}


def is_headline(args: argparse.Namespace) -> bool:
    """Whether a run with ``args`` measures the project as configured, at the default origins.

    A run with ``--params``, another environment, no promotion or other origins is a
    measurement of its own (a row cap forced, a shorter check): kept, never on the page.
    """
    sizes = {key: getattr(args, key) for key in DEFAULTS}
    if args.data is not None:
        sizes["n_stores"] = DEFAULTS["n_stores"]  # real files: their own stores
    return args.params is None and args.env is None and not args.no_promote and sizes == DEFAULTS


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="folder with train.csv, store.csv, test.csv")
    parser.add_argument("--n-stores", type=int, default=DEFAULTS["n_stores"])
    parser.add_argument("--origins", type=int, default=DEFAULTS["origins"])
    parser.add_argument("--step-days", type=int, default=DEFAULTS["step_days"])
    parser.add_argument("--horizon", type=int, default=DEFAULTS["horizon"])
    parser.add_argument("--env", default=None, help="Kedro environment of the runs")
    parser.add_argument("--params", default=None, help="--params passed to every kedro run")
    parser.add_argument("--no-promote", action="store_true", help="never promote (no lifecycle)")
    parser.add_argument("--label", default=None, help="suffix of the result files")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--keep", action="store_true", help="keep the temporary project")
    parser.add_argument("--no-docs", "--no-readme", action="store_true", dest="no_docs",
                        help="do not refill docs/benchmarks.md")  # fmt: skip
    parser.add_argument("--rescore", type=Path, help="recompute a saved result's estimates")
    parser.add_argument("--first-date", help="train.csv's first day, for --rescore")
    return parser.parse_args()


def source_files(args: argparse.Namespace, kedro: str, base: Path, project: Path,
                 env: dict[str, str]) -> Path:  # fmt: skip
    """The folder of Kaggle files to cut: ``--data``, or the synthetic default made once."""
    raw = project / "data" / "01_raw"
    if args.data is not None:
        source = args.data.resolve()
        missing = [n for n in KAGGLE_FILES if not (source / n).is_file()]
        if missing:
            sys.exit(f"{source} lacks {', '.join(missing)}")
        return source
    kedro_step(kedro, ["data", "synthesize"], project, env, base / "synthesize.log",
               "kedro data synthesize")  # fmt: skip
    source = base / "source"
    source.mkdir()
    for name in KAGGLE_FILES:
        shutil.move(raw / name, source / name)
    (raw / "synthetic.json").unlink(missing_ok=True)
    return source


def run_origin(k: int, origin: pd.Timestamp, context: dict[str, Any]) -> tuple[dict, pd.DataFrame]:
    """Cut, run, score and (when the gate passed) promote at one origin."""
    args, kedro, base, project, env = (context[key] for key in
                                       ("args", "kedro", "base", "project", "env"))  # fmt: skip
    window_csv = base / f"window-{origin.date()}.csv"
    cut_at(context["train"], context["source"], project / "data" / "01_raw", origin, args.horizon,
           window_csv)  # fmt: skip
    extra = ["--params", args.params] if args.params else []
    run = kedro_step(kedro, ["run", *extra], project, env, base / f"run-{origin.date()}.log",
                     f"kedro run, origin {origin.date()}")  # fmt: skip
    rows_out = base / f"rows-{origin.date()}.parquet"
    gate = gate_of(project)
    promoted = bool(gate["verdict"]["passed"] and not args.no_promote)
    # The Production version on the same days: what a rejection leaves serving, and what a
    # promotion replaces (so every verdict against Production can be checked).
    scores = score_version(project, env, window_csv, rows_out, context["production"])
    if promoted:
        kedro_step(kedro, ["model", "promote", "--reason", f"rolling benchmark, origin "
                           f"{origin.date()}"], project, env,
                   base / f"promote-{origin.date()}.log", "kedro model promote")  # fmt: skip
    first_date = str(context["train"]["Date"].min().date())
    record = origin_record(
        origin, scores, gate, promoted, context["production"], run.wall_s, first_date
    )
    if promoted:
        context["production"] = record["version"]
    print(
        f"[{k}/{args.origins}] origin {origin.date()}: gate {record['gate_figure']:.4f} "
        f"({'Staging' if record['gate_passed'] else 'rejected'}), CV "
        f"{_f(record['cv_rmspe'])}, realised {record['realised_rmspe']:.4f} "
        f"(bias {record['realised_bias']:+.2%}), baseline {record['baseline_rmspe']:.4f}, "
        f"skill {record['skill']:.3f}"
        + (
            f", Production v{record['production_before']} there: {record['production_rmspe']:.4f}"
            if record["production_rmspe"] is not None
            else ""
        )
        + f"; kedro run {run.wall_s:.0f} s "
        f"({time.perf_counter() - context['started']:.0f} s elapsed)",
        flush=True,
    )
    rows = pd.read_parquet(rows_out)
    # Which stores carry the window's error, and what it scores without the worst; and its
    # RMSPE's spread over stores, made as the gate makes the holdout's.
    record["error_concentration"] = error_concentration(rows, baseline="baseline")
    record["error_concentration"]["store_spread"] = store_spread(rows)["spread"]
    return record, rows.assign(origin=str(origin.date()))


def targets(s: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        "worst skill": {"value": s["worst_skill"], "limit": TARGETS["max_skill"],
                        "met": s["worst_skill"] <= TARGETS["max_skill"]},
        "gate mean abs error": {"value": s["gate_mean_abs_error"],
                                "limit": TARGETS["gate_mean_abs_error"],
                                "met": s["gate_mean_abs_error"] <= TARGETS["gate_mean_abs_error"]},
        "gate worst flattery": {"value": s["gate_max_flattery"],
                                "limit": TARGETS["gate_max_flattery"],
                                "met": s["gate_max_flattery"] <= TARGETS["gate_max_flattery"]},
        **_coverage_targets(s),
    }  # fmt: skip


def _coverage_targets(s: dict[str, Any]) -> dict[str, dict[str, Any]]:
    if "min_coverage" not in s:
        return {}
    low, high = TARGETS["coverage"]
    return {
        "lowest P10-P90 coverage": {"value": s["min_coverage"], "limit": f">= {low}",
                                    "met": s["min_coverage"] >= low},
        "highest P10-P90 coverage": {"value": s["max_coverage"], "limit": f"<= {high}",
                                     "met": s["max_coverage"] <= high},
    }  # fmt: skip


def rescore(path: Path, first_date: str | None) -> None:
    """Recompute the estimates and summaries of a saved result (``--rescore FILE``): the
    methods are pure functions of the windows each verdict recorded."""
    result = json.loads(path.read_text())
    for origin in result["origins"]:
        origin["estimates"] = estimates(
            origin.get("gate_windows"), origin.get("cv_rmspe"), result.get("first_date", first_date)
        )
    result["summary"] = summary(result["origins"])
    result["targets"] = targets(result["summary"])
    write_result(result, path.parent)
    print(render_markdown(result))


def main() -> None:
    args = parse_args()
    if args.rescore:
        rescore(args.rescore, args.first_date)
        return
    host = machine(reference=True)  # before the runs: the load and the reference fit at start
    print(
        f"Reference fit on this host: {host['reference_fit']['wall_s']:.2f} s "
        f"({host['reference_fit']['cpu_s']:.2f} s CPU)",
        flush=True,
    )
    started = time.perf_counter()
    kedro = str(Path(sys.executable).with_name("kedro"))
    base = Path(tempfile.mkdtemp(prefix="rossmann-rolling-"))
    project, env = make_project(base, args.n_stores)
    # The project copy's package wins over any installed one, in every child.
    env["PYTHONPATH"] = str(project / "src")
    if args.env:
        env["KEDRO_ENV"] = args.env
    source = source_files(args, kedro, base, project, env)
    train = read_train(source / "train.csv")
    origins = forecast_origins(train["Date"].max(), args.origins, args.step_days, args.horizon)
    print(f"Rolling benchmark in {base}: origins {[str(o.date()) for o in origins]}", flush=True)
    context = {"args": args, "kedro": kedro, "base": base, "project": project, "env": env,
               "train": train, "source": source, "production": None, "started": started}  # fmt: skip
    records, all_rows = [], []
    for k, origin in enumerate(origins, start=1):
        record, rows = run_origin(k, origin, context)
        records.append(record)
        all_rows.append(rows)

    commit, dirty = git_commit(ROOT)
    stores = int(train["Store"].nunique())
    description = (
        f"the Kaggle files in `{args.data.name}` ({stores:,} stores)"
        if args.data
        else f"synthetic data ({stores:,} stores)"
    )
    options = (f" DATA={args.data}" if args.data else "") + (
        f' ARGS="{" ".join(sys.argv[1:])}"' if sys.argv[1:] else "")  # fmt: skip
    result: dict[str, Any] = {
        "schema": 1, "kind": "rolling-real" if args.data else "rolling-synthetic",
        "created": now_utc(), "commit": commit, "dirty": dirty,
        "command": "make benchmark-rolling" + options, "machine": host,
        "data": {"description": description, "label": args.data.name if args.data else
                 "synthetic", "n_stores": stores},
        "step_days": args.step_days, "horizon_days": args.horizon, "origins": records,
        "summary": summary(records),
        "segments": segments(pd.concat(all_rows, ignore_index=True), source, train),
        "wall_s": time.perf_counter() - started, "label": args.label,
        "first_date": str(train["Date"].min().date()),
        # The project's figures come from the default settings only (benchmark_report.latest).
        "headline": is_headline(args),
    }  # fmt: skip
    s = result["summary"]
    result["targets"] = targets(s)
    stem = result_stem(result)
    args.results.mkdir(parents=True, exist_ok=True)
    result["plot"] = f"{stem}.png"
    plot(records, args.results / result["plot"], f"Rolling origins, {description}: "
         f"mean realised {s['mean_realised_rmspe']:.4f}")  # fmt: skip
    path = write_result(result, args.results)
    print("\n" + render_markdown(result))
    print(f"Written: {path}, .md and .png")
    if not args.no_docs and args.results == RESULTS:
        update_page()
        print("docs/benchmarks.md: tables refilled (make benchmark-docs)")
    if args.keep:
        print(f"Kept {base}")
    else:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
