"""Nodes of the validation gate.

A registered version is the *served* model: fit on every row of train.csv, it forecasts from
the day after the last one, so it has seen the holdout. The gate therefore judges the
procedure that made it, backtested: the same boosters, weights and scale fit on the rows
before the holdout (logged on the training run, named by the version's
``lineage.backtest.model_uri``), scored exactly as inference calls a model: holdout rows in
the test format, without their Sales, through the loaded pyfunc. The Production version is
scored on the same rows the same way (its served model if it forecasts from on or before the
holdout's first day, else its backtest). The decision (Staging or rejected) is a pure function
of the scores; the catalog's ``gate_status`` records it on the served version through the
registry module. Versions come in through the catalog (``ensemble_model``, ``production_model``).

The gate's figure is an estimate of what the served version will score on the 42 days it
forecasts, not the holdout alone: the holdout's squared errors pooled with those of the CV fold
that forecast the same calendar weeks a year earlier (``season_window``), so that the season
the forecast falls in (Christmas, Easter, summer) is in the number (``estimate.py`` makes it).
The rule (``decide_gate``) then asks three things of it, each on the same windows: under the
absolute threshold (a conf option; in a hard season it is waived for a candidate at least as
good as Production), clearly better than the per-(Store, DayOfWeek, Promo) median baseline, and
not worse than Production.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from rossmann_forecast.comparison import resampled_comparison, resampled_text, store_check
from rossmann_forecast.metrics import mean_percentage_error, rescaled_rmspe, rmspe
from rossmann_forecast.model.ensemble import answer_through
from rossmann_forecast.model.intervals import QUANTILE_PREFIX, column_level, interval_scores
from rossmann_forecast.registry.errors import RegistryError
from rossmann_forecast.registry.stages import GATE_METRIC, verdict_status
from rossmann_forecast.registry.state import likely_text
from rossmann_forecast.registry.version import RegisteredVersion

from .estimate import PRODUCTION_COMPARISONS, estimate_range, estimate_windows, store_spread

logger = logging.getLogger(__name__)


def holdout_digest(holdout_table: pd.DataFrame) -> str:
    """Content hash of the holdout rows (order-sensitive), recorded with every verdict."""
    hashed = pd.util.hash_pandas_object(holdout_table, index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()


def _holdout_start(holdout_table: pd.DataFrame) -> str:
    return str(holdout_table["Date"].min().date())


def score_candidate(candidate: RegisteredVersion, holdout_table: pd.DataFrame) -> pd.DataFrame:
    """Holdout predictions of the candidate's backtest (its procedure fit before the holdout).

    Args:
        candidate: The version to judge (``ensemble_model``: the one this run registered, or
            ``--params validation.version=N``, or the newest waiting for validation).
        holdout_table: The holdout rows, with their Sales.
    """
    model = candidate.scoring_model(_holdout_start(holdout_table))
    logger.info(
        "Scoring version %d's %s model (%s, forecasts from %s) on %d holdout rows",
        candidate.version,
        model["kind"],
        model["model_uri"],
        model["origin"],
        len(holdout_table),
    )
    return _scored(holdout_table, candidate.version, model)


def score_production(
    production: RegisteredVersion | None, holdout_table: pd.DataFrame
) -> pd.DataFrame:
    """Holdout predictions of the current Production version (empty before the first).

    Scored by the model of that version that was not fit on the holdout rows; when it has
    none (it was trained on these very rows and has no backtest), there is no honest
    comparison and the frame is empty.
    """
    empty = pd.DataFrame(columns=["Store", "Date", "Sales", "version", "prediction"])
    if production is None:
        logger.info("No Production version yet: nothing to compare the candidate with")
        return empty
    try:
        model = production.scoring_model(_holdout_start(holdout_table))
    except RegistryError as exc:
        logger.warning("No comparison with Production: %s", exc)
        return empty
    return _scored(holdout_table, production.version, model)


def _scored(holdout_table: pd.DataFrame, version: int, model: dict[str, Any]) -> pd.DataFrame:
    """The holdout's forecast by ``model`` (a ``scoring_model``), labelled with what scored it:
    the point forecast as ``prediction``, and its quantiles (``Sales_p10``...) if it has them."""
    answer = answer_through(model["model"], holdout_table)
    quantiles = [c for c in answer.columns if str(c).startswith(QUANTILE_PREFIX)]
    return holdout_table[["Store", "Date", "Sales"]].assign(
        version=version,
        prediction=answer["Sales"].astype("float64"),
        **{column: answer[column].astype("float64") for column in quantiles},
        scored_kind=model["kind"],
        scored_model_uri=model["model_uri"],
        scored_origin=model["origin"],
    )


def holdout_intervals(predictions: pd.DataFrame) -> dict[str, Any] | None:
    """Coverage and sharpness of the scored model's quantiles on the holdout, or None when it
    has none (a version trained before forecasts had quantiles).

    Days of horizon count from the scored model's origin, so week 1 is the holdout's first week.

    Returns:
        ``levels``, ``interval`` (the outer levels), and ``scores``: ``interval_coverage``
        (overall and ``_week<k>``), ``interval_width``, ``quantile_loss``
        (``model.intervals.interval_scores``).
    """
    columns = [c for c in predictions.columns if str(c).startswith(QUANTILE_PREFIX)]
    if not columns:
        return None
    levels = [column_level(c) for c in columns]
    origin = pd.Timestamp(predictions["scored_origin"].iloc[0])
    days_ahead = (predictions["Date"] - origin).dt.days.to_numpy()
    scores = interval_scores(
        predictions["Sales"].to_numpy(), predictions[columns].to_numpy(), levels, days_ahead
    )
    return {"levels": levels, "interval": [levels[0], levels[-1]], "scores": scores}


def _evidence(predictions: pd.DataFrame) -> dict[str, str]:
    first = predictions.iloc[0]
    return {
        "kind": str(first["scored_kind"]),
        "model_uri": str(first["scored_model_uri"]),
        "origin": str(first["scored_origin"]),
    }


# The holdout RMSPE with each version's level on the holdout taken out.
RESCALED_METRIC = PRODUCTION_COMPARISONS["rescaled"]


def comparison_metric(rule: dict[str, Any]) -> str:
    """The holdout metric the candidate and Production are compared on."""
    return PRODUCTION_COMPARISONS[rule.get("production_comparison", "rmspe")]


def _scores(predictions: pd.DataFrame, stores: pd.DataFrame, recent_days: int) -> dict[str, float]:
    frame = predictions.merge(stores[["Store", "StoreType"]], on="Store", how="left")
    actual, predicted = frame["Sales"].to_numpy(), frame["prediction"].to_numpy()
    scores = {
        GATE_METRIC: rmspe(actual, predicted),
        # The same at the one constant scale that suits the holdout best: what the comparison
        # with Production uses by default (validation.production_comparison).
        RESCALED_METRIC: rescaled_rmspe(actual, predicted),
        "holdout_bias": mean_percentage_error(actual, predicted),
    }
    recent = frame["Date"] >= frame["Date"].max() - pd.Timedelta(days=recent_days - 1)
    scores[f"{GATE_METRIC}_last_{recent_days}d"] = rmspe(actual[recent], predicted[recent])
    for store_type, rows in frame.groupby("StoreType"):
        position = frame.index.get_indexer(rows.index)
        if (actual[position] > 0).any():
            scores[f"{GATE_METRIC}_storetype_{store_type}"] = rmspe(
                actual[position], predicted[position]
            )
    return scores


def compare_with_production(
    candidate_predictions: pd.DataFrame,
    production_predictions: pd.DataFrame,
    rule: dict[str, Any],
) -> dict[str, Any] | None:
    """The candidate against Production on the same holdout rows, stores resampled.

    Two versions fit on the same rows differ on one six-week holdout by a draw: on the 82
    real stores of the dev slice, by up to 5% with only the boosters' seed changed
    (docs/benchmarks.md, "The comparison with Production, stores resampled"). Whether the
    candidate is worse by more than ``production_tolerance`` is therefore asked of the
    stores' spread with ``production_bootstrap``'s confidence
    (``comparison.resampled_comparison``; ``None``: the two figures as they are).
    """
    return resampled_comparison(
        candidate_predictions,
        production_predictions,
        rule.get("production_bootstrap"),
        rescaled=comparison_metric(rule) == RESCALED_METRIC,
        tolerance=float(rule["production_tolerance"]),
    )


def _fold_from(candidate: RegisteredVersion, origin: pd.Timestamp) -> dict[str, Any]:
    """The candidate's CV fold that forecast from ``origin`` (its figure and rows), if any."""
    wanted = str(origin.date())
    tags = candidate.tags
    for key, value in sorted(tags.items()):
        if key.startswith("lineage.cv_folds.") and value == wanted:
            fold = key.removeprefix("lineage.cv_folds.")
            score = tags.get(f"cv.rmspe_ensemble_{fold}")
            rows = tags.get(f"cv.rows_ensemble_{fold}")
            if score is not None and rows is not None:
                return {"found": True, "fold": fold, "origin": wanted, "rmspe": float(score),
                        "rows": int(float(rows))}  # fmt: skip
    return {"found": False, "origin": wanted}


def season_window(candidate: RegisteredVersion, validation: dict[str, Any]) -> dict[str, Any]:
    """The candidate's CV folds a year before its forecast and before its holdout, from its tags.

    The served model forecasts from ``lineage.training_window.origin`` (the holdout ends the day
    before; it starts ``lineage.backtest.origin``). ``season_lag_days`` (364: 52 weeks, same
    weekdays) earlier, the same procedure forecast the same calendar weeks, on rows it had not
    seen: ``season`` is the fold of the served weeks, ``holdout_season`` the fold of the holdout's
    weeks (``training.cv.fold_offsets_days`` holds 322 and 364 for them).

    Args:
        candidate: The version to judge.
        validation: ``params:validation`` (``season_lag_days``).

    Returns:
        ``found`` (both folds are there), ``season`` and ``holdout_season`` (each ``found`` and,
        when found, ``fold``, ``origin``, ``rmspe``, ``rows``), and ``why`` when not found.
    """
    tags = candidate.tags
    served, backtest = (
        tags.get(f"lineage.{key}.origin") for key in ("training_window", "backtest")
    )
    lag = pd.Timedelta(days=int(validation["season_lag_days"]))
    if served is None or backtest is None:
        return {"found": False, "why": f"version {candidate.version} has no origin tags"}
    season = _fold_from(candidate, pd.Timestamp(served) - lag)
    holdout_season = _fold_from(candidate, pd.Timestamp(backtest) - lag)
    found = season["found"] and holdout_season["found"]
    missing = [f["origin"] for f in (season, holdout_season) if not f["found"]]
    start = tags.get("lineage.training_window.start")
    # Had the season fold's model seen its weeks a year before it? A fold of the data's first
    # Christmas forecast a season it had never seen: not what a version trained on a year more
    # of data will do.
    learnt = bool(found and start and pd.Timestamp(season["origin"]) - lag >= pd.Timestamp(start))
    return {
        "found": found,
        "learnt": learnt,
        "training_start": start,
        "season": season,
        "holdout_season": holdout_season,
        "why": None if found else (
            f"version {candidate.version} has no CV fold from {' nor '.join(missing)} "
            f"({lag.days} days before its served origin {served} and its holdout {backtest}): "
            "train.csv too short, or training.cv.fold_offsets_days without 322 and 364"
        ),
    }  # fmt: skip


def evaluate_holdout(
    candidate_predictions: pd.DataFrame,
    production_predictions: pd.DataFrame,
    holdout_table: pd.DataFrame,
    stores_validated: pd.DataFrame,
    sales_train_window: pd.DataFrame,
    candidate_season_window: dict[str, Any],
    validation: dict[str, Any],
    block_days: int,
) -> dict[str, Any]:
    """Holdout metrics of the candidate (and of Production on the same rows), and the estimate.

    Args:
        candidate_predictions: ``score_candidate`` output.
        production_predictions: ``score_production`` output (empty without Production).
        holdout_table: The holdout rows with Sales.
        stores_validated: store.csv (StoreType per store).
        sales_train_window: The rows before the holdout (the median baseline's history).
        candidate_season_window: ``season_window`` output.
        validation: ``params:validation``.
        block_days: The length of a CV fold's window (``data_processing.features.block_days``).

    Returns:
        The report: version, metrics, the estimate and its windows, the rule's settings,
        Production's metrics, holdout hash, time.
    """
    recent_days = int(validation["recent_days"])
    threshold = validation.get("threshold")
    metrics = _scores(candidate_predictions, stores_validated, recent_days)
    report: dict[str, Any] = {
        "version": int(candidate_predictions["version"].iloc[0]),
        "scored_model": _evidence(candidate_predictions),
        "threshold": None if threshold is None else float(threshold),
        "rule": {
            "max_skill": float(validation["max_skill"]),
            "production_tolerance": float(validation["production_tolerance"]),
            "production_comparison": str(validation.get("production_comparison", "rmspe")),
            "production_bootstrap": validation.get("production_bootstrap"),
            "seasonal_waiver": bool(validation["seasonal_waiver"]),
            "min_interval_coverage": float(validation["min_interval_coverage"]),
            "store_check": validation.get("store_check"),
        },
        "estimate": estimate_windows(
            metrics,
            holdout_table,
            sales_train_window,
            candidate_season_window,
            block_days,
            str(validation["estimate"]),
            str(validation["estimate_fallback"]),
            validation.get("season_change_factor"),
            validation.get("baseline_ratio_exponent"),
        ),
        "evaluated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "holdout_sha256": holdout_digest(holdout_table),
        "holdout_rows": int(len(holdout_table)),
        "holdout_start": str(holdout_table["Date"].min().date()),
        "holdout_end": str(holdout_table["Date"].max().date()),
        "metrics": metrics,
        "intervals": holdout_intervals(candidate_predictions),
        "production": None,
    }
    # How far the next weeks may land from the estimate (factors measured over origins,
    # widened for a chain of fewer stores than they were measured on).
    report["estimate"]["range"] = estimate_range(
        report["estimate"]["rmspe"],
        validation.get("estimate_range"),
        store_spread(candidate_predictions),
        validation.get("estimate_range_stores"),
    )
    if len(production_predictions):
        report["production"] = {
            "version": int(production_predictions["version"].iloc[0]),
            "scored_model": _evidence(production_predictions),
            "metrics": _scores(production_predictions, stores_validated, recent_days),
            "comparison": compare_with_production(
                candidate_predictions, production_predictions, report["rule"]
            ),
            # Store by store on the basis the two versions are compared on (rescaled by
            # default: each at its own level, so a level a few percent apart is not read as
            # stores forecast worse).
            "stores": store_check(
                candidate_predictions,
                production_predictions,
                report["rule"]["store_check"],
                rescaled=comparison_metric(report["rule"]) == RESCALED_METRIC,
            ),
        }
    return report


def _windows_text(estimate: dict[str, Any]) -> str:
    return (
        "; ".join(
            f"{w['name']} {w['start']}..{w['end']} {w['rmspe']:.4f} ({w['rows']:,} rows)"
            for w in estimate["windows"]
        )
        + f"; estimate by {estimate['method']}"
        + _season_text(estimate.get("season_change"))
    )


def _season_text(change: dict[str, Any] | None) -> str:
    """`` (season ratio 1.50, within 2)``: why the estimate is made the way it is."""
    if change is None:
        return ""
    where = "beyond" if change["changes"] else "within"
    return f" (season ratio {change['ratio']:.2f}, {where} {change['factor']:g})"


def gate_rule(report: dict[str, Any]) -> dict[str, Any]:
    """Each condition of the gate's rule on the report, and whether it holds.

    - ``threshold``: the estimate is under the absolute threshold (always true when it is
      ``null`` in conf);
    - ``baseline``: the estimate is at most ``max_skill`` times the median baseline's on the
      same windows (a hard season is hard for the baseline too; a bad model is not);
    - ``production``: on the holdout, the candidate is at most ``production_tolerance`` (a
      share) worse than Production scored on the same rows (true without Production), each at
      its best constant scale on the holdout unless ``production_comparison`` is ``rmspe``;
      with ``production_bootstrap``, it fails only when the stores resampled show it worse
      than that with the bootstrap's confidence (``compare_with_production``);
    - ``coverage``: the outer quantiles' interval (P10-P90) holds at least
      ``min_interval_coverage`` of the holdout's store-days (true for a version without
      quantiles): a band that under-covers is as misleading as a point forecast that misses;
    - ``stores``: no store with at least ``store_check.min_days`` days with sales scores more
      than ``store_check.max_rmspe_increase`` above Production on its days (true without
      Production or ``store_check``): ``production`` judges the stores as a population, and
      lets through a version much worse on one or two (``comparison.store_check``);
    - ``waived``: the threshold is missed, but ``seasonal_waiver`` is on and a Production version
      was scored and the candidate meets every other condition: rejecting it would keep
      serving a version that is no better on the same rows and older, into the same season.
    """
    estimate = report["estimate"]
    figure, threshold, rule = estimate["rmspe"], report["threshold"], report["rule"]
    production = report["production"]
    checks = {
        "finite": bool(np.isfinite(figure)),
        "threshold": threshold is None or bool(figure < threshold),
        "baseline": bool(estimate["skill"] <= rule["max_skill"]),
        "production": True,
    }
    if production is not None and production.get("comparison") is not None:
        checks["production"] = not production["comparison"]["worse"]
    elif production is not None:
        metric = comparison_metric(rule)
        limit = production["metrics"][metric] * (1 + rule["production_tolerance"])
        checks["production"] = bool(report["metrics"][metric] <= limit)
    intervals = report.get("intervals")
    # A version without quantiles (trained before them) has no interval to judge.
    checks["coverage"] = intervals is None or bool(
        intervals["scores"]["interval_coverage"] >= rule["min_interval_coverage"]
    )
    stores = None if production is None else production.get("stores")
    checks["stores"] = stores is None or stores["above"] == 0
    checks["waived"] = bool(
        not checks["threshold"]
        and rule["seasonal_waiver"]
        and production is not None
        and checks["baseline"]
        and checks["production"]
        and checks["stores"]
    )
    checks["passed"] = bool(
        checks["finite"]
        and checks["baseline"]
        and checks["coverage"]
        and checks["production"]
        and checks["stores"]
        and (checks["threshold"] or checks["waived"])
    )
    return checks


def _reason(report: dict[str, Any], checks: dict[str, Any]) -> str:
    estimate, threshold, rule = report["estimate"], report["threshold"], report["rule"]
    figure = estimate["rmspe"]
    parts = []
    likely = likely_text(estimate.get("range"))
    if threshold is None:
        parts.append(f"estimate RMSPE {figure:.4f}{likely} (no absolute threshold)")
    else:
        op = "<" if checks["threshold"] else ">="
        parts.append(f"estimate RMSPE {figure:.4f}{likely} {op} threshold {threshold:.2f}")
        if checks["waived"]:
            parts[-1] += " (waived: a hard season, and no worse than Production)"
        elif not checks["threshold"] and rule["seasonal_waiver"] and report["production"] is None:
            # The waiver needs a version to compare with: before the first promotion the
            # threshold is a floor, whatever the season and the baseline say.
            parts[-1] += " (not waived: no Production version to compare with)"
    op = "<=" if checks["baseline"] else ">"
    parts.append(
        f"skill {estimate['skill']:.3f} {op} {rule['max_skill']:.2f} (median baseline "
        f"{estimate['baseline_rmspe']:.4f} on the same windows)"
    )
    intervals = report.get("intervals")
    if intervals is not None:
        low, high = intervals["interval"]
        covered = intervals["scores"]["interval_coverage"]
        op = ">=" if checks["coverage"] else "<"
        parts.append(
            f"P{low * 100:g}-P{high * 100:g} interval covers {covered:.1%} of holdout store-days "
            f"{op} {rule['min_interval_coverage']:.0%}"
        )
    production = report["production"]
    if production is not None:
        metric = comparison_metric(rule)
        ours, theirs = report["metrics"][metric], production["metrics"][metric]
        verdict = "not worse than" if checks["production"] else "worse than"
        comparison = production.get("comparison")
        if comparison is not None and checks["production"]:
            verdict = "not shown worse than"
        rescaled = " rescaled" if metric == RESCALED_METRIC else ""
        parts.append(
            f"holdout{rescaled} {ours:.4f} {verdict} Production v{production['version']}'s "
            f"{theirs:.4f} (tolerance {rule['production_tolerance']:.0%}"
            + (f"; {resampled_text(comparison)}" if comparison else "")
            + (
                f"; as is {report['metrics'][GATE_METRIC]:.4f} against "
                f"{production['metrics'][GATE_METRIC]:.4f})"
                if rescaled
                else ")"
            )
        )
        if production.get("stores") is not None:
            parts.append(_stores_text(production["stores"], production["version"]))
    return "; ".join(parts)


def _stores_text(stores: dict[str, Any], version: int) -> str:
    """``no store rescaled more than +0.05 above Production v3 (worst: store 383 0.0794
    against 0.0751, +0.0044, of 82 stores; scales x0.981 and x0.996)``, or how many are, and
    the worst (without ``rescaled``, as is and without the scales)."""
    rescaled = bool(stores.get("rescaled"))
    limit = (
        f"{'rescaled ' if rescaled else ''}more than +{stores['limit']:.2f} above "
        f"Production v{version}"
    )
    scales = (
        f"; scales x{stores['scale']:.3f} and x{stores['scale_reference']:.3f}" if rescaled else ""
    )
    if not stores["worst"]:
        return f"no store {limit} (no store has {stores['min_days']} days with sales)"
    first = stores["worst"][0]
    increase = first["increase"]
    worst = (
        f"store {first['Store']} {first['rmspe']:.4f} against {first['rmspe_reference']:.4f}, "
        + (f"{increase:+.4f}" if np.isfinite(increase) else "a forecast with holes")
    )
    if stores["above"] == 0:
        return f"no store {limit} (worst: {worst}, of {stores['compared']} stores{scales})"
    return f"{stores['above']} of {stores['compared']} stores {limit} (worst: {worst}{scales})"


def _recorded_metrics(report: dict[str, Any]) -> dict[str, float]:
    """What the registry stores as validation.<name> version tags, named as the run's
    metrics: holdout_rmspe, estimate_rmspe, production_holdout_rmspe, ..."""
    estimate, production = report["estimate"], report["production"]
    metrics = {k: float(v) for k, v in report["metrics"].items()}
    metrics.update(
        estimate_rmspe=float(estimate["rmspe"]),
        estimate_baseline_rmspe=float(estimate["baseline_rmspe"]),
        estimate_skill=float(estimate["skill"]),
    )
    likely = estimate.get("range")
    if likely is not None:
        metrics.update(estimate_rmspe_low=likely["low"], estimate_rmspe_high=likely["high"])
    if report.get("intervals") is not None:
        metrics.update({f"holdout_{k}": float(v) for k, v in report["intervals"]["scores"].items()})
    if production is not None:
        metrics[f"production_{GATE_METRIC}"] = float(production["metrics"][GATE_METRIC])
        metrics[f"production_{RESCALED_METRIC}"] = float(production["metrics"][RESCALED_METRIC])
        metrics["production_version"] = float(production["version"])
        comparison = production.get("comparison")
        if comparison is not None:
            metrics.update(
                production_ratio=comparison["ratio"],
                production_ratio_low=comparison["low"],
                production_ratio_high=comparison["high"],
            )
        stores = production.get("stores")
        if stores is not None:
            metrics["production_stores_above"] = float(stores["above"])
            if stores["worst"] and np.isfinite(stores["worst"][0]["increase"]):
                metrics["production_store_worst_increase"] = stores["worst"][0]["increase"]
    return metrics


def decide_gate(report: dict[str, Any]) -> dict[str, Any]:
    """The verdict: Staging when the rule holds (``gate_rule``), else rejected.

    A pure function of the report; the verdict is saved through ``gate_status``, which
    records it in the registry (under its lock, through its journal) before writing the file.

    Returns:
        ``version``, ``passed``, ``status``, ``estimate_rmspe`` (the figure compared with the
        threshold), ``holdout_rmspe``, ``skill``, ``threshold``, ``checks``, ``windows``,
        ``reason``, ``scored_model``, ``evaluated_at``, and what the registry records with it
        (``recorded_metrics``, ``evidence``).
    """
    version, threshold = report["version"], report["threshold"]
    estimate = report["estimate"]
    checks = gate_rule(report)
    passed = checks["passed"]
    production = report["production"]
    if production is not None:
        logger.info(
            "Production version %d on the same rows (%s model from %s): RMSPE %.4f "
            "(rescaled %.4f; the candidate's %.4f, rescaled %.4f)",
            production["version"],
            production["scored_model"]["kind"],
            production["scored_model"]["origin"],
            production["metrics"][GATE_METRIC],
            production["metrics"][RESCALED_METRIC],
            report["metrics"][GATE_METRIC],
            report["metrics"][RESCALED_METRIC],
        )
    if estimate["season_missing"]:
        logger.warning("The estimate is the holdout alone: %s", estimate["season_missing"])
    for note in dict.fromkeys((estimate.get("note"), estimate.get("unlearnt_season"))):
        if note:
            logger.info("Estimate: %s", note)
    logger.info(
        "Validation RMSPE: %.4f, estimate of the next weeks %.4f (version %d: %s)",
        report["metrics"][GATE_METRIC],
        estimate["rmspe"],
        version,
        _windows_text(estimate),
    )
    reason = _reason(report, checks)
    if threshold is None:
        limit = "no threshold"
    elif checks.get("waived"):
        limit = f"threshold {threshold:.2f} waived"
    else:
        limit = f"< {threshold:.2f}"
    if passed:
        logger.info("✓ Performance meets the gate (%s): %s", limit, reason)
    else:
        logger.warning("✗ Performance does not meet the gate (%s): %s", limit, reason)
    metrics = _recorded_metrics(report)
    return {
        "version": version,
        "passed": passed,
        "status": verdict_status(passed),
        "estimate_rmspe": estimate["rmspe"],
        "estimate_range": estimate.get("range"),
        "estimate_method": estimate["method"],
        "estimate_note": estimate.get("note"),
        GATE_METRIC: report["metrics"][GATE_METRIC],
        "skill": estimate["skill"],
        "threshold": threshold,
        "checks": checks,
        "windows": estimate["windows"],
        "intervals": report.get("intervals"),
        "reason": reason,
        "scored_model": report["scored_model"],
        "evaluated_at": report["evaluated_at"],
        "recorded_metrics": metrics,
        "evidence": {
            **report["scored_model"],
            "holdout_start": report["holdout_start"],
            "holdout_end": report["holdout_end"],
            "holdout_sha256": report["holdout_sha256"],
            "windows": _windows_text(estimate),
        },
    }


def gate_metrics_for_mlflow(report: dict[str, Any]) -> dict[str, dict[str, float | int]]:
    """The report's metrics in the shape kedro-mlflow's metrics dataset logs."""
    metrics = {k: {"value": float(v), "step": 0} for k, v in report["metrics"].items()}
    for key in ("rmspe", "baseline_rmspe", "skill"):
        metrics[f"estimate_{key}"] = {"value": float(report["estimate"][key]), "step": 0}
    likely = report["estimate"].get("range")
    if likely is not None:
        for key in ("low", "high"):
            metrics[f"estimate_rmspe_{key}"] = {"value": float(likely[key]), "step": 0}
    if report.get("intervals") is not None:
        for key, value in report["intervals"]["scores"].items():
            metrics[f"holdout_{key}"] = {"value": float(value), "step": 0}
    if report["production"] is not None:
        for key, value in report["production"]["metrics"].items():
            metrics[f"production_{key}"] = {"value": float(value), "step": 0}
    return metrics


__all__ = [
    "decide_gate",
    "gate_rule",
    "season_window",
    "evaluate_holdout",
    "gate_metrics_for_mlflow",
    "score_candidate",
    "score_production",
]
