"""The forecast quantiles' calibration, replayed period by period (issue 23).

One 42-day window (the benchmark's cut days) says little about a band's calibration: how well
the P10-P90 interval covers depends on how far the whole chain's level is off in that window,
which changes from one six-week period to the next. This study measures the calibration over
several periods, and each way of making it, on the same out-of-fold forecasts:

1. in a throwaway copy of the project, the real ``kedro run`` runs the default pipeline up to
   ``calibrate_intervals`` with ten CV folds, every 42 days back to 420 days before the holdout
   (``conf/local`` of the copy sets ``training.cv.fold_offsets_days`` and keeps the members'
   out-of-fold forecasts and the blend as pickles, instead of in memory);
2. each fold in turn is the period forecast; it is calibrated on older folds only, the way a
   served version lives it: today's calibration is stale by one period (the served model
   forecasts from the holdout's end with folds that end at the holdout's start), so the folds
   two, three and four periods back. The variants:
   - ``today``: those folds, pooled (``training.quantiles.fold_shift: false``);
   - ``fold_shift``: the same, each week widened by half the range of the folds' medians;
   - ``+recent``: the fold just before the period added (what the backtest's holdout
     forecast would be to the served model);
   - ``recentred``: every fold's spread around its own median, centred on the recent fold's
     median (the latest level error carried forward);
   - ``season``: today's band, each level's distance from P50 scaled by how much harder the
     period's calendar weeks were than the calibration folds' a year earlier, for the median
     baseline (the interdecile range of ``log(actual / baseline)``, ``season_scale``): a band
     that widens for a harder season before its sales are known;
   - ``widen``: the same, but only ever wider, by the square root of that ratio (a season
     the median baseline found easier does not narrow the band);
   - ``per-store``: today's band, each store's scaled by its own spread over its group's on
     the same folds (``store_scales``, shrunk towards 1 with ``STORE_PRIOR_DAYS``): a volatile
     store gets a wider band, a steady one a narrower.
   - ``by day class``: today's folds, the days around a state holiday calibrated on their
     own rows and the store types on the other days (``training.quantiles.day_classes``,
     ``DAY_CLASSES``).

Per period and variant: P10-P90 coverage (overall and worst/best week of horizon), mean width
relative to P50 and the weighted quantile loss; over periods, also the coverage of the days
around holidays apart from the other days.

Then the point forecast's side of the same question (issue 19: "a store whose level moved
lately is forecast at its old level"): does a store's error carry from one period to the next?
Per pair of consecutive periods, the correlation over stores of each store's median error
(the chain's median taken out), and the next period's RMSPE as forecast, and with each
store's previous-period error carried forward (in part: ``CARRY``). Written to
``benchmark/results/<date>-<commit>-calibration-study[-<label>].md``.

Usage: ``python scripts/calibration_study.py [--data DIR] [--label LABEL] [--n-stores N]
[--env ENV]``; without ``--data`` the full-size synthetic default is generated. About 12
minutes on full-size synthetic data and 3 on the 82-store real dev slice (2 cores; the run up to
the calibration with ten folds is nearly all of it).
"""

from __future__ import annotations

import argparse
import pickle
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rossmann_forecast.baseline import median_baseline
from rossmann_forecast.metrics import rmspe
from rossmann_forecast.model.boosters import MEMBERS
from rossmann_forecast.model.intervals import (
    HOLIDAY,
    ORDINARY,
    apply_calibration,
    check_day_classes,
    fit_calibration,
    interval_scores,
)
from rossmann_forecast.pipelines.training.nodes import blended_oof_forecasts, store_groups

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import git_commit, now_utc, run_measured, write_study  # noqa: E402

from benchmark import make_project  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmark" / "results"
PERIOD_DAYS = 42
# Ten folds, one every period, back to 420 days before the holdout (all block starts).
OFFSETS = [PERIOD_DAYS * k for k in range(1, 11)]
# Periods back of the folds today's calibration stands on, relative to the period forecast.
TODAY = (2, 3, 4)
LEVELS = [0.1, 0.5, 0.9]
MIN_ROWS = 300
# Shares of a store's previous-period error carried into its next period's forecast.
CARRY = (0.5, 1.0)
# ``season``: the weeks a year earlier, and the history the median baseline needs before them.
SEASON_LAG_DAYS = 364
MIN_BASELINE_DAYS = 120
# ``per-store``: a store's own spread counts as this many store-days against its group's.
STORE_PRIOR_DAYS = 60
# ``by day class``: the days within 3 of a state holiday (training.quantiles.day_classes).
DAY_CLASSES = check_day_classes({"holiday_window_days": 3})
STUDY_CONF = {
    "parameters_study.yml": (
        "training:\n  cv:\n    fold_offsets_days: [" + ", ".join(map(str, OFFSETS)) + "]\n"
    ),
    "catalog_study.yml": "".join(
        f"{m}_oof_predictions:\n  type: pickle.PickleDataset\n"
        f"  filepath: data/07_model_output/study_{m}_oof.pkl\n"
        for m in MEMBERS
    )
    + "ensemble_blend:\n  type: pickle.PickleDataset\n"
    "  filepath: data/07_model_output/study_blend.pkl\n",
}


def out_of_fold(
    project: Path, env: dict[str, str], base: Path, synthetic: bool, kedro_env: str | None
) -> tuple:
    """Run the real pipeline up to the calibration; the blend's OOF forecasts, store groups
    and the sales history (train.csv, for the ``season`` variant's median baseline)."""
    for name, text in STUDY_CONF.items():
        (project / "conf" / (kedro_env or "local") / name).write_text(text)
    if kedro_env:
        env = {**env, "KEDRO_ENV": kedro_env}
    kedro = str(Path(sys.executable).with_name("kedro"))
    steps = [["data", "synthesize"]] if synthetic else []
    steps.append(["run", "--to-nodes", "calibrate_intervals"])
    for args in steps:
        result = run_measured(
            f"kedro {' '.join(args)}", [kedro, *args], project, env, log=base / "kedro.log"
        )
        if not result.ok:
            print(result.output[-4000:])
            sys.exit(f"kedro {' '.join(args)} failed (log: {base / 'kedro.log'})")
        print(f"kedro {' '.join(args)}: {result.wall_s:.0f} s", flush=True)
    output = project / "data" / "07_model_output"
    oof = {m: pd.read_pickle(output / f"study_{m}_oof.pkl") for m in MEMBERS}
    with (output / "study_blend.pkl").open("rb") as f:
        blend = pickle.load(f)  # noqa: S301 (written by this run)
    stores = pd.read_csv(project / "data" / "01_raw" / "store.csv")
    sales = pd.read_csv(
        project / "data" / "01_raw" / "train.csv",
        usecols=["Store", "DayOfWeek", "Date", "Sales", "Open", "Promo"],
        parse_dates=["Date"],
    )
    return blended_oof_forecasts(blend, oof, DAY_CLASSES), store_groups(stores), sales


def recentred(frame: pd.DataFrame, groups: dict[int, str], recent_fold: Any) -> dict[str, Any]:
    """Each fold's log ratios around its own median, centred on the recent fold's median."""
    usable = frame[(frame["Sales"] > 0) & (frame["forecast"] > 0)]
    ratio = np.log(usable["Sales"] / usable["forecast"])
    own = ratio.groupby(usable["fold"]).transform("median")
    centre = float(np.median(ratio[usable["fold"] == recent_fold]))
    return fit_calibration(
        usable.assign(forecast=usable["forecast"] * np.exp(own - centre)), groups, LEVELS, MIN_ROWS
    )


def baseline_spread(sales: pd.DataFrame, start: pd.Timestamp) -> float | None:
    """The median baseline's interdecile range of ``log(actual / baseline)`` over the 42 days
    from ``start`` (selling days), fitted on every day before it; ``None`` with too little
    history before it."""
    history = sales[sales["Date"] < start]
    if history["Date"].nunique() < MIN_BASELINE_DAYS:
        return None
    end = start + pd.Timedelta(days=PERIOD_DAYS)
    rows = sales[(sales["Date"] >= start) & (sales["Date"] < end) & (sales["Sales"] > 0)]
    ratio = np.log(rows["Sales"].to_numpy() / median_baseline(history, rows))
    ratio = ratio[np.isfinite(ratio)]
    if not len(ratio):
        return None
    return float(np.quantile(ratio, 0.9) - np.quantile(ratio, 0.1))


def season_scale(sales: pd.DataFrame, origin: Any, fold_origins: list[Any]) -> float:
    """How much harder the period from ``origin`` is than the calibration folds' periods, for
    the median baseline on the same calendar weeks a year earlier (1 when unknown)."""
    lag = pd.Timedelta(days=SEASON_LAG_DAYS)
    period = baseline_spread(sales, pd.Timestamp(origin) - lag)
    folds = [baseline_spread(sales, pd.Timestamp(o) - lag) for o in fold_origins]
    folds = [s for s in folds if s]
    if not period or not folds:
        return 1.0
    return period / float(np.mean(folds))


def scaled(calibration: dict[str, Any], scale: float) -> dict[str, Any]:
    """``calibration`` with every level's offset's distance from P50's times ``scale``."""
    middle = LEVELS.index(0.5)

    def stretch(values: list[float]) -> list[float]:
        centre = values[middle]
        return [centre + (v - centre) * scale for v in values]

    offsets = {
        group: {week: stretch(values) for week, values in by_week.items()}
        for group, by_week in calibration["offsets"].items()
    }
    return {**calibration, "offsets": offsets}


def store_scales(frame: pd.DataFrame, groups: dict[int, str]) -> dict[int, float]:
    """Each store's interdecile range of its log ratios (each fold-week's median taken out)
    over its group's, shrunk towards 1 by ``STORE_PRIOR_DAYS``."""
    usable = frame[(frame["Sales"] > 0) & (frame["forecast"] > 0)]
    ratio = np.log(usable["Sales"] / usable["forecast"])
    centred = ratio - ratio.groupby([usable["fold"], usable["days_ahead"] // 7]).transform("median")

    def spread(values: pd.Series) -> float:
        return float(np.quantile(values, 0.9) - np.quantile(values, 0.1))

    group = usable["Store"].map(groups).fillna("all")
    by_group = centred.groupby(group).agg(spread)
    by_store = centred.groupby(usable["Store"]).agg(spread)
    days = centred.groupby(usable["Store"]).size()
    own = by_store / by_store.index.map(lambda s: by_group[groups.get(s, "all")]).to_numpy()
    shrunk = (days * own + STORE_PRIOR_DAYS) / (days + STORE_PRIOR_DAYS)
    return {int(store): float(value) for store, value in shrunk.items()}


def store_scaled(quantiles: np.ndarray, stores: np.ndarray, scales: dict[int, float]) -> np.ndarray:
    """Each row's quantiles with their log distance from P50 times its store's scale."""
    middle = LEVELS.index(0.5)
    logs = np.log(np.maximum(quantiles, 1e-9))
    factor = np.array([scales.get(int(s), 1.0) for s in stores])[:, None]
    return np.exp(logs[:, [middle]] + (logs - logs[:, [middle]]) * factor)


def variants(
    frame: pd.DataFrame,
    groups: dict[int, str],
    period: dict[int, Any],
    k: int,
    sales: pd.DataFrame | None = None,
) -> dict:
    """The calibrations of the period ``k`` periods before the holdout, from older folds only.

    Each is a calibration, or a calibration and per-store scales of its bands."""
    older = frame[frame["fold"].isin([period[k + back] for back in TODAY])]
    recent = frame[frame["fold"].isin([period[k + back] for back in (1, *TODAY)])]
    today = fit_calibration(older, groups, LEVELS, MIN_ROWS)
    found = {
        "today": today,
        "fold_shift": fit_calibration(older, groups, LEVELS, MIN_ROWS, fold_shift=True),
        "+recent": fit_calibration(recent, groups, LEVELS, MIN_ROWS),
        "recentred": recentred(recent, groups, period[k + 1]),
    }
    if sales is not None:
        origins = frame.groupby("fold")["fold_origin"].first()
        older_origins = [origins[period[k + back]] for back in TODAY]
        ratio = season_scale(sales, origins[period[k]], older_origins)
        found["season"] = scaled(today, ratio)
        found["widen"] = scaled(today, max(1.0, float(np.sqrt(ratio))))
    found["per-store"] = (today, store_scales(older, groups))
    found["by day class"] = fit_calibration(
        older, groups, LEVELS, MIN_ROWS, day_class_settings=DAY_CLASSES
    )
    return found


def study(
    frame: pd.DataFrame, groups: dict[int, str], sales: pd.DataFrame | None = None
) -> list[dict[str, Any]]:
    origins = frame.groupby("fold")["fold_origin"].first().sort_values(ascending=False)
    period = {k: fold for k, fold in enumerate(origins.index, start=1)}  # 1 = just before
    rows = []
    for k in sorted(period):
        if k + max(TODAY) not in period:
            continue
        held = frame[(frame["fold"] == period[k]) & (frame["Sales"] > 0)]
        ratio = np.log(held["Sales"] / held["forecast"].where(held["forecast"] > 0))
        record = {"origin": str(pd.Timestamp(origins[period[k]]).date()),
                  "median_error": float(np.nanmedian(ratio)), "scores": {}}  # fmt: skip
        for name, made in variants(frame, groups, period, k, sales).items():
            calibration, scales = made if isinstance(made, tuple) else (made, None)
            quantiles = apply_calibration(
                calibration,
                held["Store"].to_numpy(),
                held["days_ahead"].to_numpy(),
                held["forecast"].to_numpy(),
                held["day_class"].to_numpy(),
            )
            if scales is not None:
                quantiles = store_scaled(quantiles, held["Store"].to_numpy(), scales)
            record["scores"][name] = interval_scores(
                held["Sales"].to_numpy(), quantiles, LEVELS, held["days_ahead"].to_numpy()
            )
            inside = (held["Sales"] >= quantiles[:, 0]) & (held["Sales"] <= quantiles[:, -1])
            record["scores"][name]["inside_by_class"] = {
                str(c): [int(part.sum()), int(len(part))]
                for c, part in inside.groupby(held["day_class"].to_numpy())
            }
        rows.append(record)
    return rows


def _store_errors(rows: pd.DataFrame) -> pd.Series:
    """Each store's median log(actual / forecast), less the chain's median, in one period."""
    ratio = np.log(rows["Sales"] / rows["forecast"])
    return ratio.groupby(rows["Store"]).median() - float(ratio.median())


def level_carry_over(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Whether a store's error in one period carries into the next, oldest pair first.

    For each period after the first: the correlation over stores of their errors in it and in
    the period before, and its RMSPE as forecast and with a share (``CARRY``) of each store's
    previous-period error applied to its forecast (a store missing before gets none). Both
    periods' forecasts are out of fold, and the earlier period ends where the later begins, so
    the correction uses only what was known at the later period's origin.
    """
    usable = frame[(frame["Sales"] > 0) & (frame["forecast"] > 0)]
    origins = usable.groupby("fold")["fold_origin"].first().sort_values()
    rows = []
    for before, after in zip(origins.index[:-1], origins.index[1:], strict=True):
        earlier = _store_errors(usable[usable["fold"] == before])
        later_rows = usable[usable["fold"] == after]
        later = _store_errors(later_rows)
        common = earlier.index.intersection(later.index)
        actual = later_rows["Sales"].to_numpy()
        carried = later_rows["Store"].map(earlier).fillna(0.0).to_numpy()
        record = {
            "origin": str(pd.Timestamp(origins[after]).date()),
            "correlation": float(np.corrcoef(earlier[common], later[common])[0, 1]),
            "rmspe": {0.0: rmspe(actual, later_rows["forecast"].to_numpy())},
        }
        for share in CARRY:
            corrected = later_rows["forecast"].to_numpy() * np.exp(share * carried)
            record["rmspe"][share] = rmspe(actual, corrected)
        rows.append(record)
    return rows


def render_carry_over(rows: list[dict[str, Any]]) -> list[str]:
    shares = list(rows[0]["rmspe"])
    names = ["as forecast"] + [f"{share:.0%} of the store's last error" for share in shares[1:]]
    lines = ["", "## A store's error, one period to the next", "",
             "Correlation over stores of their median errors (the chain's median taken out) in "
             "a period and the period before; the period's RMSPE as forecast and with each "
             "store's previous-period error carried forward:", "",
             "| period from | correlation | " + " | ".join(names) + " |",
             "|---|---:|" + "---:|" * len(names)]  # fmt: skip
    for row in rows:
        cells = " | ".join(f"{row['rmspe'][share]:.4f}" for share in shares)
        lines.append(f"| {row['origin']} | {row['correlation']:+.2f} | {cells} |")
    means = " | ".join(f"{np.mean([r['rmspe'][share] for r in rows]):.4f}" for share in shares)
    correlation = np.mean([r["correlation"] for r in rows])
    lines.append(f"| mean | {correlation:+.2f} | {means} |")
    return lines


def _weeks(scores: dict[str, float]) -> list[float]:
    return [v for key, v in scores.items() if key.startswith("interval_coverage_week")]


def render(rows: list[dict[str, Any]], header: str) -> str:
    names = list(rows[0]["scores"])
    lines = [header, "", "## Per period", "",
             "P10-P90 coverage (worst-best week of horizon), width / P50, quantile loss; "
             "median error = median log(actual / forecast) of the period:", "",
             "| period from | median error | " + " | ".join(names) + " |",
             "|---|---:|" + "---|" * len(names)]  # fmt: skip
    for row in rows:
        cells = []
        for name in names:
            s = row["scores"][name]
            weeks = _weeks(s)
            cells.append(
                f"{s['interval_coverage']:.1%} ({min(weeks):.0%}-{max(weeks):.0%}), "
                f"{s['interval_width']:.3f}, {s['quantile_loss']:.4f}"
            )
        lines.append(
            f"| {row['origin']} | {row['median_error']:+.3f} | " + " | ".join(cells) + " |"
        )
    lines += ["", "## Over periods", "",
              "| variant | mean coverage | lowest | highest | mean distance from 80% | "
              "periods within 77-83% | worst week | mean width | mean quantile loss |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for name in names:
        cov = np.array([r["scores"][name]["interval_coverage"] for r in rows])
        worst = min(min(_weeks(r["scores"][name])) for r in rows)
        width = np.mean([r["scores"][name]["interval_width"] for r in rows])
        loss = np.mean([r["scores"][name]["quantile_loss"] for r in rows])
        inside = int(((cov >= 0.77) & (cov <= 0.83)).sum())
        lines.append(
            f"| {name} | {cov.mean():.1%} | {cov.min():.1%} | {cov.max():.1%} | "
            f"{np.abs(cov - 0.8).mean():.1%} | {inside} of {len(cov)} | {worst:.0%} | "
            f"{width:.3f} | {loss:.4f} |"
        )
    lines += ["", "## By day class, over periods", "",
              "P10-P90 coverage of the days around a state holiday (within "
              f"{DAY_CLASSES['holiday_window_days']} days) and of the other days, every "
              "period's store-days pooled (rows in brackets):", "",
              "| variant | holiday | ordinary |", "|---|---:|---:|"]  # fmt: skip
    for name in names:
        cells = []
        for day_class in (HOLIDAY, ORDINARY):
            counts = [r["scores"][name]["inside_by_class"].get(day_class, [0, 0]) for r in rows]
            inside, total = (sum(c[i] for c in counts) for i in (0, 1))
            cells.append(f"{inside / total:.1%} ({total:,})" if total else "-")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="folder of Kaggle files")
    parser.add_argument("--n-stores", type=int, default=1115, help="synthetic stores")
    parser.add_argument("--env", default=None, help="Kedro environment of the run")
    parser.add_argument("--label", default=None)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="calibration-study-") as tmp:
        base = Path(tmp)
        raw = args.data.resolve() if args.data else None
        project, env = make_project(base, args.n_stores, raw)
        frame, groups, sales = out_of_fold(project, env, base, args.data is None, args.env)
    rows = study(frame, groups, sales)
    commit, dirty = git_commit(ROOT)
    data = f"the Kaggle files in `{args.data.name}`" if args.data else "full-size synthetic data"
    command = "python scripts/calibration_study.py" + (f" --data {args.data}" if args.data else "")
    header = (
        f"# Forecast quantiles' calibration, period by period: {data}\n\n`{command}` at commit "
        f"`{commit}`{' with uncommitted changes' if dirty else ''}, {now_utc()}: {len(rows)} "
        f"periods of {PERIOD_DAYS} days, each calibrated on older CV folds only (see the "
        "script's docstring for the variants)."
    )
    text = render(rows, header) + "\n".join(render_carry_over(level_carry_over(frame))) + "\n"
    write_study(text, args.results, commit, "calibration-study", args.label)


if __name__ == "__main__":
    main()
