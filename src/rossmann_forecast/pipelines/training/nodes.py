"""Nodes of the training pipeline: rolling-origin CV, ensemble weights, backtest and served fits.

One procedure, run twice: the *backtest* fits every booster on the rows before the holdout
(the gate scores it on the holdout through its pyfunc), the *served* model fits the same
boosters, weights and scale on every row of train.csv and forecasts from the day after the
last one. Only the served model is registered; the backtest is logged on the same run and
named on the version as the evidence that validated it.
"""

from __future__ import annotations

import itertools
import logging
import time
from typing import Any

import numpy as np
import pandas as pd

from rossmann_forecast.metrics import mean_percentage_error, rmspe
from rossmann_forecast.model.boosters import booster
from rossmann_forecast.model.ensemble import (
    MEMBER_LABELS,
    MemberSpec,
    RossmannEnsemble,
    fit_member,
    predict_member,
    training_target,
)
from rossmann_forecast.model.features import (
    FeatureConfig,
    FeatureState,
    counters_known_at,
    feature_names,
    fit_state,
    level_feature,
)
from rossmann_forecast.model.intervals import (
    DAY_CLASS_FEATURES,
    check_day_classes,
    day_classes,
    fit_calibration,
)

logger = logging.getLogger(__name__)


# Where the training run logs the served version's drift reference (catalog_training.yml's
# drift_reference: artifact_path + file name); inference reads it from the version's run.
DRIFT_REFERENCE_ARTIFACT = "drift/drift_reference.json"


def _matrix(table: pd.DataFrame, names: list[str]) -> np.ndarray:
    return table[names].to_numpy(dtype="float32")


def _origin(forecast_origins: dict[str, str], key: str) -> pd.Timestamp:
    return pd.Timestamp(forecast_origins[key])


def fit_positions(where: pd.Series | np.ndarray, fit_rows: dict[str, Any] | None) -> np.ndarray:
    """Positions of the rows a fit draws among those ``where`` holds, in table order.

    At most ``fit_rows.max_rows`` rows, drawn uniformly (seeded). The training table holds
    every store-day once per block alignment, so on full-size data it reaches millions of
    rows; a uniform sample keeps the fit within the run's time budget while still covering
    every store, weekday and horizon. ``max_rows: null`` (or fewer rows) fits on every row.
    The draw is pandas' ``table.loc[where].sample(max_rows, random_state=seed)`` put back in
    table order, without copying a row.
    """
    positions = np.flatnonzero(np.asarray(where, dtype=bool))
    max_rows = (fit_rows or {}).get("max_rows")
    if max_rows is None or len(positions) <= int(max_rows):
        return positions
    state = np.random.RandomState(int(fit_rows.get("seed", 0)))
    return np.sort(positions[state.choice(len(positions), size=int(max_rows), replace=False)])


def cv_fit_rows(fit_rows: dict[str, Any] | None) -> dict[str, Any] | None:
    """The row cap the CV folds draw with: ``fit_rows`` with ``max_rows`` set to its
    ``cv_max_rows`` (absent or null: the folds draw as the backtest and served fits do).

    The folds only serve to measure: their out-of-fold forecasts set the blend's scale and
    calibrate the quantiles, while the gate judges the backtest and users get the served fit.
    A fold fitted on fewer rows errs a little more, which widens the band a little and
    leaves the forecasts' level as it was (docs/benchmarks.md, "Fewer rows for the CV folds").

    Raises:
        ValueError: ``cv_max_rows`` is not a positive whole number or null.
    """
    cv_rows = (fit_rows or {}).get("cv_max_rows")
    if cv_rows is None:
        return fit_rows
    if isinstance(cv_rows, bool) or not isinstance(cv_rows, int) or cv_rows < 1:
        raise ValueError(
            "training.fit_rows.cv_max_rows must be a positive whole number of rows (or null: "
            f"the CV folds draw training.fit_rows.max_rows), not {cv_rows!r}"
        )
    return {**fit_rows, "max_rows": cv_rows}


def member_positions(
    where: pd.Series | np.ndarray, fit_rows: dict[str, Any] | None, spec: MemberSpec
) -> tuple[np.ndarray, MemberSpec]:
    """The rows one booster's fit draws (``fit_positions`` with its ``draw_factor`` times
    ``fit_rows.max_rows``) and the settings it fits them with (``MemberSpec.for_rows``: each
    tree samples as many rows as at the cap)."""
    cap = (fit_rows or {}).get("max_rows")
    if cap is None or spec.draw_factor == 1:
        return fit_positions(where, fit_rows), spec
    positions = fit_positions(where, {**fit_rows, "max_rows": round(int(cap) * spec.draw_factor)})
    return positions, spec.for_rows(len(positions), int(cap))


def fit_arrays(
    table: pd.DataFrame,
    positions: np.ndarray,
    names: list[str],
    level: str | None = None,
    known_at: tuple[pd.Timestamp, int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The boosters' inputs at ``positions``: float32 features in ``names`` order and the
    target (``training_target``: log1p(Sales), relative to the feature ``level`` if given).

    ``known_at`` (an origin and the counters' cap) fits as if at that origin: the drawn rows'
    days-until counters are cut there (``features.counters_known_at``), so a CV fold or the
    backtest fits exactly the rows a run at its origin would have fit.

    Gathers the feature columns one by one into the matrix instead of copying the drawn rows
    of the whole table first (some 60 columns, mixed types) and converting them: on full-size data
    this takes a fit's preparation from about a second to a fifth of that. With ``level``,
    rows without it (no sales in its window, which requests are refused for) are left out;
    the level is read from the float32 matrix, as the model reads it when it forecasts.
    """
    x = np.empty((len(positions), len(names)), dtype=np.float32)
    for column, name in enumerate(names):
        x[:, column] = table[name].to_numpy()[positions]
    if known_at is not None:
        counters_known_at(x, table["Date"].to_numpy()[positions], names, *known_at)
    sales = table["Sales"].to_numpy()[positions]
    if level is None:
        return x, training_target(sales)
    values = x[:, names.index(level)]
    known = ~np.isnan(values)
    if not known.all():
        x, sales, values = x[known], sales[known], values[known]
    return x, training_target(sales, values)


def _rows_note(drawn: int, available: int, spec: MemberSpec) -> str:
    if drawn == available:
        return f"{available:,} rows"
    if spec.draw_factor == 1:
        return f"{drawn:,} of {available:,} rows (training.fit_rows.max_rows)"
    share = spec.params.get(booster(spec.library).row_share, 1.0)
    return (
        f"{drawn:,} of {available:,} rows (training.fit_rows.max_rows x draw_factor "
        f"{spec.draw_factor:g}; each tree samples {share:.0%} of them)"
    )


def fold_origins(forecast_origins: dict[str, str], cv: dict[str, Any]) -> list[pd.Timestamp]:
    """The CV folds' origins, oldest first: ``fold_offsets_days`` before the holdout origin.

    The default offsets are 42 days (the six weeks just before the holdout) and 322 days: the
    fold that forecasts, a year earlier (52 weeks, same weekdays), the very weeks the served
    model will forecast (the 42 days after the holdout). The gate pools that fold with the
    holdout into its estimate of the next six weeks, so that the season the forecast falls in
    (Christmas, Easter, the summer holidays) is in the number it judges.
    """
    holdout = _origin(forecast_origins, "holdout_origin")
    offsets = sorted({int(days) for days in cv["fold_offsets_days"]}, reverse=True)
    return [holdout - pd.Timedelta(days=days) for days in offsets]


def cross_validate_member(
    model_input_table: pd.DataFrame,
    forecast_origins: dict[str, str],
    cv: dict[str, Any],
    member: dict[str, Any],
    feature_settings: dict[str, Any],
    fit_rows: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Out-of-fold log predictions of one booster, each fold forecast from its own origin.

    Fold ``k`` trains on the rows before its origin and predicts the ``block_days`` after it,
    with statistics frozen at that origin (the table's block that starts there), so each fold
    sees what a forecast made on that day would see. No fold reaches the holdout.

    Args:
        model_input_table: Training table (features, ``Sales``, ``Date``, ``block_origin``).
        forecast_origins: ``holdout_origin`` and ``served_origin`` from ``split_holdout``.
        cv: ``params:training.cv`` (``fold_offsets_days``).
        member: ``params:training.members.<name>``.
        feature_settings: The run's feature settings.
        fit_rows: ``params:training.fit_rows`` (``max_rows``, ``seed``): see ``fit_positions``;
            the folds draw with its ``cv_max_rows`` (``cv_fit_rows``).

    Returns:
        ``Store``, ``Date``, ``fold``, ``fold_origin``, ``Sales``, ``log_prediction`` and the
        features a row's day class is read from (``model.intervals.DAY_CLASS_FEATURES``).

    Raises:
        ValueError: No fold has rows to validate on (train.csv too short for the offsets).
    """
    spec = MemberSpec.from_params(member)
    label = MEMBER_LABELS[spec.library]
    config = FeatureConfig.from_params(feature_settings)
    names, level = feature_names(config), level_feature(config)
    holdout = _origin(forecast_origins, "holdout_origin")
    origins = fold_origins(forecast_origins, cv)
    fit_rows = cv_fit_rows(fit_rows)
    parts = []
    for fold, origin in enumerate(origins, start=1):
        if origin >= holdout:
            raise ValueError(f"CV fold origin {origin.date()} is not before the holdout")
        name = f"{label} fold {fold}/{len(origins)} (origin {origin.date()})"
        part = _validate_fold(
            model_input_table, fold, origin, spec, (names, level, config.counter_cap_days),
            fit_rows, name,
        )  # fmt: skip
        if part is not None:
            parts.append(part)
    if not parts:
        raise ValueError(
            f"No CV fold of {label} could be validated: origins "
            f"{[str(o.date()) for o in origins]} have no training block in the table "
            f"(train.csv {forecast_origins.get('first_date')} .. before "
            f"{forecast_origins['served_origin']}). Use a longer train.csv or smaller "
            "training.cv.fold_offsets_days."
        )
    return pd.concat(parts, ignore_index=True)


def _validate_fold(
    table: pd.DataFrame,
    fold: int,
    origin: pd.Timestamp,
    spec: MemberSpec,
    columns: tuple[list[str], str | None, int],
    fit_rows: dict[str, Any] | None,
    name: str,
) -> pd.DataFrame | None:
    """One CV fold: fit on the rows before ``origin`` as a run there would have (counters
    known at ``origin``: ``fit_arrays``), predict the block that starts there.

    ``columns``: the feature names, the store's level (``features.level_feature``; a relative
    member's target is relative to it, and a store without it is not forecast by any member,
    as it is not served) and the counters' cap.

    Returns:
        The block's rows as ``cross_validate_member`` returns them; None (logged) when the
        fold has no rows to validate on or none to fit on.
    """
    names, level, cap = columns
    before = (table["Date"] < origin).to_numpy()
    valid_rows = table.loc[table["block_origin"] == origin]
    valid_rows = valid_rows.loc[valid_rows[level].notna()]
    if valid_rows.empty or not before.any():
        logger.warning(
            "CV %s skipped: train.csv has no %s there (a fold origin must be a block start "
            "with history before it: see cv.fold_offsets_days and "
            "data_processing.features.block_offsets_days)",
            name,
            "rows to validate on" if valid_rows.empty else "rows before it",
        )
        return None
    started = time.perf_counter()
    relative = spec.relative_to_level
    positions, spec = member_positions(before, fit_rows, spec)
    model = fit_member(
        spec,
        *fit_arrays(table, positions, names, level if relative else None, (origin, cap)),
    )
    prediction = predict_member(
        spec.library,
        model,
        _matrix(valid_rows, names),
        valid_rows[level].to_numpy(dtype="float32") if relative else None,
    )
    logger.info(
        "CV %s: RMSPE %.4f, %d rows, %.1f s",
        name,
        rmspe(valid_rows["Sales"].to_numpy(), np.expm1(prediction)),
        len(valid_rows),
        time.perf_counter() - started,
    )
    return valid_rows[["Store", "Date", "Sales", *DAY_CLASS_FEATURES]].assign(
        fold=fold, fold_origin=origin, log_prediction=prediction
    )


def _fit_before(
    table: pd.DataFrame,
    before: pd.Timestamp | None,
    member: dict[str, Any],
    feature_settings: dict[str, Any],
    role: str,
    fit_rows: dict[str, Any] | None,
) -> tuple[str, Any]:
    """Fit one booster on the rows of ``table`` dated before ``before`` (None: every row), as
    a run at ``before`` would have fit it (``fit_arrays``' ``known_at``)."""
    spec = MemberSpec.from_params(member)
    config = FeatureConfig.from_params(feature_settings)
    names = feature_names(config)
    started = time.perf_counter()
    dates = table["Date"].to_numpy()
    where = np.ones(len(table), dtype=bool) if before is None else dates < before.to_datetime64()
    positions, spec = member_positions(where, fit_rows, spec)
    level = level_feature(config) if spec.relative_to_level else None
    known_at = None if before is None else (before, config.counter_cap_days)
    model = fit_member(spec, *fit_arrays(table, positions, names, level, known_at))
    logger.info(
        "Training %s... ✓ (%s: %s up to %s, %d rounds, %.1f s)",
        MEMBER_LABELS[spec.library],
        role,
        _rows_note(len(positions), int(np.count_nonzero(where)), spec),
        pd.Timestamp(dates[where].max()).date(),
        spec.num_rounds,
        time.perf_counter() - started,
    )
    return spec.library, model


def fit_backtest_member(
    model_input_table: pd.DataFrame,
    forecast_origins: dict[str, str],
    member: dict[str, Any],
    feature_settings: dict[str, Any],
    fit_rows: dict[str, Any] | None = None,
) -> tuple[str, Any]:
    """Fit one booster on the rows before the holdout: the model the gate judges.

    Returns:
        ``(library, fitted model)``.
    """
    holdout = _origin(forecast_origins, "holdout_origin")
    return _fit_before(model_input_table, holdout, member, feature_settings, "backtest", fit_rows)


def fit_served_member(
    model_input_table: pd.DataFrame,
    member: dict[str, Any],
    feature_settings: dict[str, Any],
    fit_rows: dict[str, Any] | None = None,
) -> tuple[str, Any]:
    """Fit one booster on every row of train.csv: the model that is registered and served.

    Returns:
        ``(library, fitted model)``.
    """
    return _fit_before(model_input_table, None, member, feature_settings, "served", fit_rows)


def rmspe_scale(actual: np.ndarray, prediction: np.ndarray) -> float:
    """The scale that minimises RMSPE for errors of this spread, leaving their bias alone.

    For ``r = prediction / actual`` the RMSPE-optimal scale is ``mean(r) / mean(r^2)``. Part of
    that corrects the spread (a log-target model is too high for a percentage error: about
    ``exp(-1.5 sigma^2)``), part the period's mean bias. The bias of the CV weeks does not carry
    over to the next weeks (on the real data it flipped sign between adjacent six-week
    periods, and fitting it cost 0.005 RMSPE on the next period), so it is taken out first:
    ``r`` is divided by its geometric mean.
    """
    ratio = prediction / actual
    centred = ratio / np.exp(np.mean(np.log(ratio)))
    return float(centred.mean() / (centred**2).mean())


def simplex_grid(members: int, step: float) -> np.ndarray:
    """Every weight vector of ``members`` non-negative weights summing to one, on a grid."""
    steps = round(1.0 / step)
    points = [
        (*head, steps - sum(head))
        for head in itertools.product(range(steps + 1), repeat=members - 1)
        if sum(head) <= steps
    ]
    return np.array(points, dtype="float64") / steps


def _fitted_weights(actual: np.ndarray, logs: np.ndarray, step: float) -> np.ndarray:
    """The grid blend with the lowest out-of-fold RMSPE (each blend at its best scale)."""
    candidates = simplex_grid(logs.shape[1], step)
    losses = []
    for weights in candidates:
        blend = np.expm1(logs @ weights)
        losses.append(rmspe(actual, blend * rmspe_scale(actual, blend)))
    return candidates[int(np.argmin(losses))]


def fit_ensemble_weights(ensemble: dict[str, Any], **oof: pd.DataFrame) -> dict[str, Any]:
    """Blend weights and scale from out-of-fold predictions only.

    ``ensemble.weights``: ``equal`` (the default) averages the members' log predictions;
    ``fitted`` searches every non-negative weight vector summing to one on a grid of
    ``weight_step``. On the real data fitted weights jumped between adjacent folds (for example
    from 0.2/0.45/0.35 to 0/0/1) and did not beat equal weights on the next six weeks, so
    equal is the default. The scale is ``rmspe_scale`` of the blend.

    Args:
        ensemble: ``params:training.ensemble`` (``weights``, ``weight_step``).
        **oof: Out-of-fold predictions of each member, by member name, on the same rows.

    Returns:
        ``weights`` per member, ``scale``, the CV fold origins, and per-member and ensemble CV
        RMSPE (overall and per fold) and bias.

    Raises:
        ValueError: The members' out-of-fold rows do not line up, or the method is unknown.
    """
    if not oof:
        raise ValueError("No members to blend: pass each member's out-of-fold predictions")
    names = list(oof)
    base = oof[names[0]].reset_index(drop=True)
    for name, frame in oof.items():
        if not frame[["Store", "Date"]].reset_index(drop=True).equals(base[["Store", "Date"]]):
            raise ValueError(f"Out-of-fold rows of {name} do not line up with {names[0]}'s")
    actual = base["Sales"].to_numpy(dtype="float64")
    logs = np.column_stack([oof[n]["log_prediction"].to_numpy() for n in names])

    method = str(ensemble.get("weights", "equal"))
    if method == "equal":
        weights = np.full(len(names), 1.0 / len(names))
    elif method == "fitted":
        weights = _fitted_weights(actual, logs, float(ensemble["weight_step"]))
    else:
        raise ValueError(f"training.ensemble.weights must be 'equal' or 'fitted', not {method!r}")
    raw_blend = np.expm1(logs @ weights)
    scale = rmspe_scale(actual, raw_blend)
    blend = raw_blend * scale

    metrics: dict[str, float] = {}
    for i, name in enumerate(names):
        metrics[f"rmspe_{name}"] = rmspe(actual, np.expm1(logs[:, i]))
    metrics["rmspe_ensemble"] = rmspe(actual, blend)
    metrics["bias_ensemble"] = mean_percentage_error(actual, blend)
    folds = {}
    for fold, rows in base.groupby("fold").groups.items():
        position = base.index.get_indexer(rows)
        metrics[f"rmspe_ensemble_fold{fold}"] = rmspe(actual[position], blend[position])
        # The rows scored, so that the gate can pool a fold with its holdout (an RMSPE is
        # pooled by its squares weighted by rows).
        metrics[f"rows_ensemble_fold{fold}"] = float(np.count_nonzero(actual[position] > 0))
        folds[f"fold{fold}"] = str(pd.Timestamp(base["fold_origin"].iloc[position[0]]).date())
    logger.info(
        "Creating ensemble... ✓ %s weights %s, scale %.4f, CV RMSPE %.4f (%s; members: %s)",
        method,
        {n: round(float(w), 3) for n, w in zip(names, weights, strict=True)},
        scale,
        metrics["rmspe_ensemble"],
        ", ".join(
            f"fold from {origin} {metrics[f'rmspe_ensemble_{fold}']:.4f}"
            for fold, origin in folds.items()
        ),
        ", ".join(f"{n} {metrics[f'rmspe_{n}']:.4f}" for n in names),
    )
    return {
        "method": method,
        "weights": {n: float(w) for n, w in zip(names, weights, strict=True)},
        "scale": scale,
        "folds": folds,
        "metrics": metrics,
    }


def calibrate_intervals(
    stores_validated: pd.DataFrame,
    blend: dict[str, Any],
    quantiles: dict[str, Any],
    **oof: pd.DataFrame,
) -> dict[str, Any]:
    """The forecast quantiles' calibration, from the blend's out-of-fold forecasts only.

    Each CV fold's rows are forecast by boosters fit before the fold's origin, blended and
    scaled exactly as the model will (``blend``): the log ratios of actual to forecast, per
    week after the fold's origin and store type, give each quantile's offset
    (``model.intervals``). Both the backtest the gate scores and the served model use it; no
    holdout row is in it.

    Args:
        stores_validated: store.csv (``StoreType``: the store groups).
        blend: ``fit_ensemble_weights`` output (weights and scale).
        quantiles: ``params:training.quantiles`` (``levels``, ``min_rows``, ``fold_shift``,
            ``day_classes``).
        **oof: Out-of-fold predictions of each member, by member name.

    Returns:
        The calibration (``model.intervals.fit_calibration``).
    """
    settings = check_day_classes(quantiles.get("day_classes"))
    frame = blended_oof_forecasts(blend, oof, settings)
    groups = store_groups(stores_validated)
    calibration = fit_calibration(
        frame,
        groups,
        quantiles["levels"],
        int(quantiles["min_rows"]),
        fold_shift=bool(quantiles.get("fold_shift", False)),
        day_class_settings=settings,
    )
    pooled = calibration["offsets"]["all"]
    logger.info(
        "Calibrating forecast quantiles %s... ✓ on %s out-of-fold store-days; P%g..P%g of "
        "week 1 x%.3f..x%.3f, week %d x%.3f..x%.3f",
        calibration["levels"],
        f"{int((frame['Sales'] > 0).sum()):,}",
        calibration["levels"][0] * 100,
        calibration["levels"][-1] * 100,
        np.exp(pooled["1"][0]),
        np.exp(pooled["1"][-1]),
        calibration["weeks"],
        np.exp(pooled[str(calibration["weeks"])][0]),
        np.exp(pooled[str(calibration["weeks"])][-1]),
    )
    return calibration


def blended_oof_forecasts(
    blend: dict[str, Any],
    oof: dict[str, pd.DataFrame],
    day_class_settings: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """The blend's out-of-fold forecast of every CV store-day, as the model would make it.

    Returns:
        ``Store``, ``Sales`` (actual), ``forecast`` (the members' log predictions blended with
        ``blend``'s weights, back-transformed and scaled), ``days_ahead`` (after the fold's
        origin), ``fold`` and ``fold_origin``; with ``day_class_settings``
        (``model.intervals.check_day_classes``), each row's ``day_class`` too.
    """
    names = list(blend["weights"])
    base = oof[names[0]]
    logs = np.column_stack([oof[n]["log_prediction"].to_numpy() for n in names])
    weights = np.array([blend["weights"][n] for n in names])
    return pd.DataFrame(
        {
            "Store": base["Store"].to_numpy(),
            "Sales": base["Sales"].to_numpy(dtype="float64"),
            "forecast": np.expm1(logs @ weights) * float(blend["scale"]),
            "days_ahead": (base["Date"] - base["fold_origin"]).dt.days.to_numpy(),
            "fold": base["fold"].to_numpy(),
            "fold_origin": base["fold_origin"].to_numpy(),
            **({"day_class": day_classes(base, day_class_settings)} if day_class_settings else {}),
        }
    )


def store_groups(stores_validated: pd.DataFrame) -> dict[int, str]:
    """Store -> its ``StoreType``: the groups the forecast quantiles are calibrated by."""
    return dict(
        zip(
            stores_validated["Store"].astype(int),
            stores_validated["StoreType"].astype(str),
            strict=True,
        )
    )


def fit_model_states(
    sales_validated: pd.DataFrame,
    stores_validated: pd.DataFrame,
    forecast_origins: dict[str, str],
    feature_settings: dict[str, Any],
) -> tuple[FeatureState, FeatureState]:
    """Freeze store statistics at the holdout origin (backtest) and after the last row (served).

    Returns:
        ``(backtest_state, served_state)``.
    """
    config = FeatureConfig.from_params(feature_settings)
    return tuple(
        fit_state(sales_validated, stores_validated, _origin(forecast_origins, key), config)
        for key in ("holdout_origin", "served_origin")
    )


def cv_metrics_for_mlflow(blend: dict[str, Any]) -> dict[str, dict[str, float | int]]:
    """CV metrics in the shape kedro-mlflow's metrics dataset logs (prefixed ``cv.``)."""
    return {name: {"value": float(v), "step": 0} for name, v in blend["metrics"].items()}


def _ensemble(
    state: FeatureState,
    members: dict[str, tuple[str, Any]],
    blend: dict[str, Any],
    lineage: dict[str, Any],
    feature_settings: dict[str, Any],
    intervals: dict[str, Any] | None,
    horizon_days: int,
    member_settings: dict[str, dict[str, Any]],
) -> RossmannEnsemble:
    if intervals is not None:
        lineage = {**lineage, "intervals": interval_lineage(intervals)}
    return RossmannEnsemble(
        state=state,
        members=members,
        weights=blend["weights"],
        scale=blend["scale"],
        feature_names=feature_names(FeatureConfig.from_params(feature_settings)),
        lineage=lineage,
        horizon_days=horizon_days,
        intervals=intervals,
        relative_members=relative_members(member_settings, members),
    )


def relative_members(
    member_settings: dict[str, dict[str, Any]], members: dict[str, Any]
) -> list[str]:
    """The fitted members whose target was relative to the store's level (``relative_to_level``
    in their settings): the model adds the level back to their forecasts.

    Raises:
        ValueError: A fitted member has no settings, so what it fit cannot be told.
    """
    missing = sorted(set(members) - set(member_settings))
    if missing:
        raise ValueError(
            f"No settings in params:training.members for the fitted member(s) {missing}: "
            "what each booster fits (relative_to_level) cannot be told"
        )
    return sorted(
        name for name in members if MemberSpec.from_params(member_settings[name]).relative_to_level
    )


def validated_horizon_days(lineage: dict[str, Any]) -> int:
    """The gate validates the procedure over the holdout's days: the horizon it vouches for,
    the same for the backtest (from the holdout's first day) and the served model (from the
    day after the last row)."""
    return (
        pd.Timestamp(lineage["training_window"]["origin"])
        - pd.Timestamp(lineage["backtest_window"]["origin"])
    ).days


def interval_lineage(intervals: dict[str, Any]) -> dict[str, Any]:
    """What a reviewer needs to know about the quantiles: levels, method, calibration rows."""
    pooled_rows = intervals["rows"]["all"]
    return {
        "levels": ", ".join(f"{level:g}" for level in intervals["levels"]),
        "method": intervals["method"],
        "weeks": int(intervals["weeks"]),
        "calibration_rows": int(sum(pooled_rows.values())),
        "groups": ", ".join(sorted(set(intervals["groups"].values()))),
    }


def assemble_backtest_ensemble(
    backtest_state: FeatureState,
    blend: dict[str, Any],
    lineage: dict[str, Any],
    feature_settings: dict[str, Any],
    intervals: dict[str, Any],
    member_settings: dict[str, dict[str, Any]],
    **members: tuple[str, Any],
) -> RossmannEnsemble:
    """The backtest: the procedure fit on the rows before the holdout, forecasting from it.

    ``members`` are the fitted boosters by member name (``(library, booster)``), fit as
    ``member_settings`` (``params:training.members``) say; ``intervals`` the quantiles'
    calibration (``calibrate_intervals``, on folds before the holdout).
    """
    window = {**lineage["training_window"], **lineage["backtest_window"]}
    return _ensemble(
        backtest_state,
        members,
        blend,
        {**lineage, "role": "backtest", "training_window": window},
        feature_settings,
        intervals,
        # The backtest forecasts the holdout itself: none of its days lies past the horizon
        # (computed from the lineage before its windows are merged above).
        validated_horizon_days(lineage),
        member_settings,
    )


def describe_backtest(backtest_ensemble_model: Any) -> dict[str, Any]:
    """Where the backtest logged on this run lives, for the served version's tags.

    Args:
        backtest_ensemble_model: The backtest pyfunc as loaded back from MLflow (which also
            proves that it loads).

    Returns:
        ``model_uri`` (``models:/m-...``), ``model_id``, ``run_id`` and its ``origin``.
    """
    metadata = backtest_ensemble_model.metadata
    python_model = backtest_ensemble_model.unwrap_python_model()
    return {
        "model_uri": f"models:/{metadata.model_id}",
        "model_id": metadata.model_id,
        "run_id": metadata.run_id,
        "origin": str(python_model.state.origin.date()),
    }


def assemble_served_ensemble(
    served_state: FeatureState,
    blend: dict[str, Any],
    lineage: dict[str, Any],
    backtest_reference: dict[str, Any],
    feature_settings: dict[str, Any],
    drift_reference: dict[str, Any],
    intervals: dict[str, Any],
    member_settings: dict[str, dict[str, Any]],
    **members: tuple[str, Any],
) -> RossmannEnsemble:
    """The served model: the same procedure fit on every row, forecasting from after the last.

    ``members`` are the fitted boosters by member name, fit as ``member_settings`` say. Its
    lineage names the backtest that the gate will judge in its place and the drift reference
    logged beside it (taken as an input so that the reference is on the run before the
    version is registered).
    """
    model = _ensemble(
        served_state,
        members,
        blend,
        lineage,
        feature_settings,
        intervals,
        validated_horizon_days(lineage),
        member_settings,
    )
    backtest = {**lineage["backtest_window"], **backtest_reference}
    served = {key: value for key, value in model.lineage.items() if key != "backtest_window"}
    reference = {
        "artifact": DRIFT_REFERENCE_ARTIFACT,
        "trained_through": drift_reference["trained_through"],
        "stores": len(drift_reference["stores"]),
    }
    model.lineage = {
        **served, "role": "served", "backtest": backtest, "drift_reference": reference,
    }  # fmt: skip
    return model


def collect_lineage(
    raw_data_lineage: dict[str, Any],
    model_input_table: pd.DataFrame,
    sales_validated: pd.DataFrame,
    forecast_origins: dict[str, str],
    blend: dict[str, Any],
    training: dict[str, Any],
    feature_settings: dict[str, Any],
) -> dict[str, Any]:
    """Everything a reviewer needs to trace the model to its data and settings.

    The run id and git commit are added when the version is registered
    (``io.models.RegisteredEnsembleDataset``); the backtest's model URI once it is logged.
    """
    data_source = {"source": raw_data_lineage.get("source")}
    data_source.update(raw_data_lineage.get("synthetic") or {})
    holdout = _origin(forecast_origins, "holdout_origin")
    config = FeatureConfig.from_params(feature_settings)
    left_out = sorted(
        set(feature_names(FeatureConfig.from_params({**feature_settings, "customers": True})))
        - set(feature_names(config))
    )
    before = model_input_table["Date"] < holdout
    return {
        "data_source": data_source,
        "raw_files": raw_data_lineage.get("files", {}),
        "training_window": {
            "start": str(sales_validated["Date"].min().date()),
            "end": str(sales_validated["Date"].max().date()),
            "origin": forecast_origins["served_origin"],
            "rows": int(len(model_input_table)),
            "raw_rows": int(len(sales_validated)),
            "stores": int(sales_validated["Store"].nunique()),
        },
        "backtest_window": {
            "end": str((holdout - pd.Timedelta(days=1)).date()),
            "origin": forecast_origins["holdout_origin"],
            "rows": int(before.sum()),
        },
        "features": feature_names(config),
        "features_left_out": left_out,
        "feature_settings": dict(feature_settings),
        "hyperparameters": training["members"],
        "cv_folds": blend["folds"],
        "cv_metrics": blend["metrics"],
        "ensemble_method": blend["method"],
        "ensemble_weights": blend["weights"],
        "ensemble_scale": blend["scale"],
    }


def capture_drift_reference(
    sales_validated: pd.DataFrame, stores_validated: pd.DataFrame, drift: dict[str, Any]
) -> dict[str, Any]:
    """What the served version's inputs looked like, for the drift check of every batch it
    will forecast (``rossmann_forecast.drift``): logged as an artifact of the run that
    registers it, and read back with the version by inference.

    Args:
        sales_validated: Every validated train row (what the served version is fitted on).
        stores_validated: The validated store.csv rows.
        drift: ``params:drift`` (how many weeks of per-store sales the reference keeps).

    Returns:
        The JSON-ready reference of :func:`rossmann_forecast.drift.build_reference`.
    """
    from rossmann_forecast.drift import build_reference  # noqa: PLC0415

    return build_reference(sales_validated, stores_validated, drift)
