"""Nodes of the tuning pipeline: an Optuna study per booster on the training CV folds.

Each trial fits the booster with sampled parameters on the same rolling-origin folds as
``training`` (``training.cv``) and scores the pooled out-of-fold RMSPE. The current parameters
from ``conf`` (clipped into the search space) are trial 0, so the best trial is never worse on
CV than what trains today. A best trial that beats trial 0 is then re-scored, with trial 0,
under other seeds of the booster's sampling (``tuning.seed_check_seeds``): it is kept only if
it beats trial 0 by ``tuning.seed_check_min_gain`` under every one of them, since a seed
alone moves a booster's RMSPE about as much as most parameter changes do (docs/tuning.md).
The trials are returned as a table (logged as nested MLflow runs by the catalog) and the
chosen parameters as a ``training.members`` fragment that the catalog writes as a parameters file a
later ``kedro run`` picks up (``conf/local/parameters_tuned.yml`` by default).
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
import pandas as pd

from rossmann_forecast.metrics import rmspe
from rossmann_forecast.model.boosters import booster
from rossmann_forecast.model.ensemble import (
    MEMBER_LABELS,
    MemberSpec,
    fit_member,
    predict_member,
    training_target,
)
from rossmann_forecast.model.features import (
    FeatureConfig,
    counters_known_at,
    feature_names,
    level_feature,
)
from rossmann_forecast.pipelines.training.nodes import fold_origins, member_positions

logger = logging.getLogger(__name__)

# Optuna logs every trial at INFO through its own handler; the nodes log one line per trial.
optuna.logging.set_verbosity(optuna.logging.WARNING)


def _suggest(trial: optuna.Trial, name: str, space: dict[str, Any]) -> Any:
    kind = space.get("type", "float")
    if kind == "int":
        return trial.suggest_int(
            name, int(space["low"]), int(space["high"]), log=space.get("log", False)
        )
    if kind == "float":
        return trial.suggest_float(
            name, float(space["low"]), float(space["high"]), log=space.get("log", False)
        )
    if kind == "categorical":
        return trial.suggest_categorical(name, list(space["choices"]))
    raise ValueError(
        f"Unknown search space type {kind!r} for {name!r}: use int, float or categorical"
    )


def _current_values(member: dict[str, Any], search_space: dict[str, Any]) -> dict[str, Any]:
    """What conf trains with today, clipped into the search space: the study's trial 0."""
    values = {}
    unset = [n for n in search_space if n != "num_rounds" and n not in member["params"]]
    if unset:
        # Optuna would sample them, and trial 0 would no longer be what conf trains with.
        raise ValueError(
            f"tuning.search_space.{member['library']} searches {', '.join(unset)}, which "
            f"training.members.{member['library']}.params does not set: set them in conf "
            "(the library's defaults) so that trial 0 is the current parameters"
        )
    for name, space in search_space.items():
        value = member["num_rounds"] if name == "num_rounds" else member["params"][name]
        if space.get("type", "float") in ("int", "float"):
            value = min(max(value, space["low"]), space["high"])
            value = int(round(value)) if space.get("type") == "int" else float(value)
        elif value not in space["choices"]:
            continue
        values[name] = value
    return values


def _member_with(member: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """``member`` with ``num_rounds`` and ``params.<name>`` replaced by ``values``."""
    tuned = copy.deepcopy(member)
    for name, value in values.items():
        if name == "num_rounds":
            tuned["num_rounds"] = int(value)
        else:
            tuned["params"][name] = value
    return tuned


def _folds(
    table: pd.DataFrame,
    forecast_origins: dict[str, str],
    cv: dict[str, Any],
    fit_rows: dict[str, Any] | None,
    spec: MemberSpec,
) -> list[tuple[np.ndarray, np.ndarray, str]]:
    """(fit positions, validation positions, origin) of each CV fold that has rows.

    The same folds and the same draw as training's ``cross_validate_member``.
    """
    folds = []
    dates = table["Date"]
    for origin in fold_origins(forecast_origins, cv):
        fit, _ = member_positions((dates < origin).to_numpy(), fit_rows, spec)
        valid = np.flatnonzero((table["block_origin"] == origin).to_numpy())
        if len(fit) and len(valid):
            folds.append((fit, valid, str(origin.date())))
    if not folds:
        raise ValueError("No CV fold has rows to tune on: see training.cv.fold_offsets_days")
    return folds


def tune_member(
    model_input_table: pd.DataFrame,
    forecast_origins: dict[str, str],
    cv: dict[str, Any],
    member: dict[str, Any],
    search_space: dict[str, dict[str, Any]],
    tuning: dict[str, Any],
    feature_settings: dict[str, Any],
    fit_rows: dict[str, Any] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Search one booster's parameters on the CV folds within the budget.

    Args:
        model_input_table: The training table (the holdout rows are never used: every fold
            ends before the holdout).
        forecast_origins: From ``split_holdout``.
        cv: ``params:training.cv``.
        member: ``params:training.members.<name>``: trial 0, and every parameter not searched.
        search_space: ``params:tuning.search_space.<library>``: ``name -> {type, low, high,
            log}`` (``num_rounds`` included).
        tuning: ``params:tuning`` (``n_trials``, ``timeout_seconds``, ``seed``,
            ``seed_check_seeds``: the booster's seeds the best trial and trial 0 are re-scored
            with after the study, empty: no check; ``seed_check_min_gain``: the relative gain
            over trial 0 the best must show with each of them).
        feature_settings: The run's feature settings.
        fit_rows: ``params:training.fit_rows``, the row cap training fits with.

    Returns:
        The trials (``number``, ``state``, ``rmspe``, ``rmspe_<fold origin>``,
        ``duration_seconds``, ``params`` as JSON, ``rmspe_seed_<seed>`` of the re-scored
        trials, ``chosen``: 1 for the trial whose parameters are returned) and the chosen
        member settings: the best trial's, or trial 0's when the seed check did not bear the
        best out.

    Raises:
        ValueError: ``tuning.seed_check_seeds`` is not a list of integers or
            ``tuning.seed_check_min_gain`` not a share in [0, 1) (before any fit).
    """
    spec = MemberSpec.from_params(member)
    label = MEMBER_LABELS[spec.library]
    seeds = tuning.get("seed_check_seeds") or []
    if not isinstance(seeds, list) or any(
        isinstance(seed, bool) or not isinstance(seed, int) for seed in seeds
    ):
        raise ValueError(
            f"tuning.seed_check_seeds must be a list of integer seeds (empty: no check), "
            f"not {seeds!r}"
        )
    min_gain = tuning.get("seed_check_min_gain", 0.0)
    if isinstance(min_gain, bool) or not isinstance(min_gain, int | float) or not 0 <= min_gain < 1:
        raise ValueError(
            f"tuning.seed_check_min_gain must be a share in [0, 1) (0.005: 0.5% better than "
            f"conf's parameters with every seed), not {min_gain!r}"
        )
    data = _FoldData.build(
        model_input_table, forecast_origins, cv, feature_settings, fit_rows, spec
    )
    n_trials, timeout = int(tuning["n_trials"]), tuning.get("timeout_seconds")
    records: list[dict[str, Any]] = []

    def objective(trial: optuna.Trial) -> float:
        values = {name: _suggest(trial, name, space) for name, space in search_space.items()}
        started = time.perf_counter()
        score, per_fold = data.score(MemberSpec.from_params(_member_with(member, values)))
        seconds = time.perf_counter() - started
        best = min([score, *(r["rmspe"] for r in records)])
        records.append(
            {
                "number": trial.number,
                "rmspe": score,
                **per_fold,
                "duration_seconds": seconds,
                "params": json.dumps(values, sort_keys=True),
            }
        )
        logger.info(
            "Tuning %s trial %d/%d: CV RMSPE %.4f (best %.4f) in %.1f s",
            label, trial.number + 1, n_trials, score, best, seconds,
        )  # fmt: skip
        return score

    study = optuna.create_study(
        direction="minimize", sampler=optuna.samplers.TPESampler(seed=int(tuning["seed"]))
    )
    study.enqueue_trial(_current_values(member, search_space), skip_if_exists=True)
    study.optimize(objective, n_trials=n_trials, timeout=timeout, catch=())
    trials = pd.DataFrame(records).assign(state="COMPLETE")
    _log_best(trials, label)

    def rescore(values: dict[str, Any], seed: int) -> float:
        settings = _member_with(member, values)
        settings["params"] = booster(spec.library).seeded(settings["params"], seed)
        return data.score(MemberSpec.from_params(settings))[0]

    trials = seed_check(trials, seeds, rescore, label, float(min_gain))
    chosen = trials.loc[trials["chosen"] == 1].iloc[0]
    return trials, _member_with(member, json.loads(chosen["params"]))


def _log_best(trials: pd.DataFrame, label: str) -> None:
    """How the study's best trial compares with conf's parameters (trial 0)."""
    best_trial = trials.loc[trials["rmspe"].idxmin()]
    logger.info(
        "Tuning %s... ✓ %d trials, best CV RMSPE %.4f (trial %d; conf's parameters: %.4f)",
        label,
        len(trials),
        float(best_trial["rmspe"]),
        int(best_trial["number"]),
        float(trials.loc[trials["number"] == 0, "rmspe"].iloc[0]),
    )


def seed_check(
    trials: pd.DataFrame,
    seeds: list[int],
    rescore: Callable[[dict[str, Any], int], float],
    label: str,
    min_gain: float = 0.0,
) -> pd.DataFrame:
    """Keep the study's best trial only if it beats trial 0 by ``min_gain`` (relative) under
    every seed in ``seeds``.

    The study scores every trial with the booster's configured seed, so the best of many
    trials is partly the luckiest draw of the booster's row and feature sampling. The best
    trial and trial 0 are fitted again on the same folds with each of ``seeds``
    (``rescore(params, seed)`` -> pooled CV RMSPE); if the best's RMSPE is not below trial
    0's times ``1 - min_gain`` with every one of them, trial 0 (what conf trains with) is
    chosen.

    Args:
        trials: The study's trials (``number``, ``rmspe``, ``params`` as JSON).
        seeds: The seeds to re-score with; empty: the best trial is chosen unchecked.
        rescore: Pooled CV RMSPE of a parameter set fitted with a seed.
        label: The booster's name in logs.
        min_gain: The relative gain the best must show over trial 0 with each seed.

    Returns:
        ``trials`` with ``rmspe_seed_<seed>`` for the two re-scored trials and ``chosen``
        (1 for the chosen trial, 0 for the others).
    """
    trials = trials.copy()
    best = int(trials.loc[trials["rmspe"].idxmin(), "number"])
    chosen = best
    if seeds and best != 0:
        params = {
            number: json.loads(trials.loc[trials["number"] == number, "params"].iloc[0])
            for number in (0, best)
        }
        verdicts = []
        for seed in seeds:
            scores = {number: rescore(values, seed) for number, values in params.items()}
            for number, score in scores.items():
                trials.loc[trials["number"] == number, f"rmspe_seed_{seed}"] = score
            verdicts.append(scores[best] < scores[0] * (1 - min_gain))
            logger.info(
                "Tuning %s seed check, seed %d: trial %d CV RMSPE %.5f, conf's parameters "
                "%.5f (%+.2f%%)",
                label, seed, best, scores[best], scores[0], 100 * (scores[best] / scores[0] - 1),
            )  # fmt: skip
        if all(verdicts):
            logger.info(
                "Tuning %s... ✓ trial %d beats conf's parameters by more than %.1f%% with "
                "%s %s too: its parameters are written",
                label, best, 100 * min_gain, "seed" if len(seeds) == 1 else "seeds",
                ", ".join(map(str, seeds)),
            )  # fmt: skip
        else:
            chosen = 0
            logger.warning(
                "Tuning %s: trial %d beat conf's parameters with the configured seed but not "
                "by more than %.1f%% with every seed of tuning.seed_check_seeds (%s): the "
                "difference is within what a seed moves, so conf's parameters (trial 0) are "
                "written",
                label, best, 100 * min_gain, ", ".join(map(str, seeds)),
            )  # fmt: skip
    trials["chosen"] = (trials["number"] == chosen).astype(int)
    return trials


@dataclass(frozen=True)
class _FoldData:
    """The CV folds' boosters inputs, built once per study and shared by every trial."""

    matrix: np.ndarray
    level: np.ndarray  # the store's level a relative member's target is relative to
    actual: np.ndarray
    folds: list[tuple[np.ndarray, np.ndarray, str]]
    dates: np.ndarray
    names: list[str]
    cap: int  # the counters' cap: each fold fits with its counters known at its origin
    max_rows: int | None  # training.fit_rows.max_rows: each tree samples as at it (for_rows)

    @classmethod
    def build(
        cls,
        table: pd.DataFrame,
        forecast_origins: dict[str, str],
        cv: dict[str, Any],
        feature_settings: dict[str, Any],
        fit_rows: dict[str, Any] | None,
        spec: MemberSpec,
    ) -> _FoldData:
        config = FeatureConfig.from_params(feature_settings)
        return cls(
            matrix=table[feature_names(config)].to_numpy(dtype="float32"),
            level=table[level_feature(config)].to_numpy(dtype="float32"),
            actual=table["Sales"].to_numpy(dtype="float64"),
            folds=_folds(table, forecast_origins, cv, fit_rows, spec),
            max_rows=(fit_rows or {}).get("max_rows"),
            dates=table["Date"].to_numpy(),
            names=feature_names(config),
            cap=config.counter_cap_days,
        )

    @property
    def known(self) -> np.ndarray:
        """Rows with a level (a store with sales in the longest window)."""
        return ~np.isnan(self.level)

    def score(self, spec: MemberSpec) -> tuple[float, dict[str, float]]:
        """Pooled out-of-fold RMSPE of one parameter set, and each fold's (``rmspe_<origin>``)."""
        predicted, truth, per_fold = [], [], {}
        for drawn, scored, origin in self.folds:
            fit, valid, level = drawn, scored, None
            if spec.relative_to_level:  # as in training: rows without a level are left out
                fit, valid, level = drawn[self.known[drawn]], scored[self.known[scored]], self.level
            target = training_target(self.actual[fit], None if level is None else level[fit])
            known = counters_known_at(
                self.matrix[fit], self.dates[fit], self.names, pd.Timestamp(origin), self.cap
            )  # as training's folds fit (a copy: the shared matrix stays as built)
            model = fit_member(spec.for_rows(len(drawn), self.max_rows), known, target)
            offset = None if level is None else level[valid]
            prediction = np.expm1(predict_member(spec.library, model, self.matrix[valid], offset))
            per_fold[f"rmspe_{origin}"] = rmspe(self.actual[valid], prediction)
            predicted.append(prediction)
            truth.append(self.actual[valid])
        return rmspe(np.concatenate(truth), np.concatenate(predicted)), per_fold


def tuned_parameters(**best: dict[str, Any]) -> dict[str, Any]:
    """The parameters file a later ``kedro run`` picks up (soft-merged over ``conf/base``).

    ``best`` holds each member's tuned ``training.members.<name>`` entry, by member name.
    """
    return {"training": {"members": dict(best)}}


def tuning_metrics(**trials_by_member: pd.DataFrame) -> dict[str, dict[str, float | int]]:
    """Best and starting CV RMSPE per member, and the trial written (``chosen_trial``: 0
    when the seed check kept conf's parameters), for kedro-mlflow's metrics dataset."""
    metrics: dict[str, dict[str, float | int]] = {}
    for name, trials in trials_by_member.items():
        metrics[f"{name}.best_rmspe"] = {"value": float(trials["rmspe"].min()), "step": 0}
        metrics[f"{name}.conf_rmspe"] = {
            "value": float(trials.loc[trials["number"] == 0, "rmspe"].iloc[0]),
            "step": 0,
        }
        metrics[f"{name}.trials"] = {"value": float(len(trials)), "step": 0}
        chosen = trials.loc[trials["chosen"] == 1, "number"]
        metrics[f"{name}.chosen_trial"] = {"value": float(chosen.iloc[0]), "step": 0}
    return metrics
