"""The registered model: a LightGBM + XGBoost + CatBoost ensemble as one MLflow pyfunc.

The model takes rows in the Kaggle test format and returns Sales. The store attributes, the
statistics frozen at the forecast origin and the feature logic travel inside it
(``features.FeatureState``), so inference needs no separate preprocessing and cannot drift
from training.

It is logged as MLflow "models from code": ``entrypoint.py`` declares an empty
``RossmannEnsemble`` and ``load_context`` reads its artifacts, which are plain files: each
booster in its library's own format (LightGBM text, XGBoost UBJSON, CatBoost binary), the
feature state as Parquet tables, weights and lineage as JSON. Nothing is unpickled on load.
"""

import json
import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.types import ColSpec, Schema

from rossmann_forecast.model.boosters import BOOSTERS, booster
from rossmann_forecast.model.features import (
    FeatureState,
    features_for_request,
    level_feature,
    load_state,
    save_state,
)
from rossmann_forecast.model.intervals import (
    DAY_CLASS_FEATURES,
    apply_calibration,
    day_classes,
    quantile_columns,
)

logger = logging.getLogger(__name__)

INPUT_COLUMNS = ["Store", "DayOfWeek", "Date", "Open", "Promo", "StateHoliday", "SchoolHoliday"]
MEMBER_LABELS = {name: b.label for name, b in BOOSTERS.items()}
VALID_STATE_HOLIDAYS = {"0", "a", "b", "c"}
# The one date spelling accepted: ISO 8601 calendar date, no time, no zone.
DATE_PATTERN = r"\d{4}-\d{2}-\d{2}"
DATE_FORMAT = "%Y-%m-%d"
# The answer's column that marks rows past the validated horizon.
HORIZON_COLUMN = "beyond_validated_horizon"
# How many offending rows a refusal shows: enough to find them, short enough for one line.
MAX_ROWS_SHOWN = 3

INPUT_SCHEMA = Schema(
    [
        ColSpec("long", "Id", required=False),
        ColSpec("long", "Store"),
        ColSpec("long", "DayOfWeek"),
        ColSpec("string", "Date"),
        # Open is missing for a few rows of the Kaggle test file: a missing Open is open.
        ColSpec("double", "Open", required=False),
        ColSpec("long", "Promo"),
        ColSpec("string", "StateHoliday"),
        ColSpec("long", "SchoolHoliday"),
    ]
)


def model_signature(levels: list[float] | None = None) -> ModelSignature:
    """The pyfunc's signature: test rows in; Sales, the horizon mark and the quantiles out.

    ``beyond_validated_horizon``: the row lies past the days after the origin that the gate
    validated the procedure for (forecast anyway, as batch inference marks it; its quantiles
    too are extrapolated from the last calibrated week). ``Sales_p10``...: one column per
    quantile level of the version (``model.intervals``).
    """
    outputs = [ColSpec("double", "Sales"), ColSpec("boolean", HORIZON_COLUMN)]
    outputs += [ColSpec("double", column) for column in quantile_columns(levels or [])]
    return ModelSignature(inputs=INPUT_SCHEMA, outputs=Schema(outputs))


class InvalidInputError(MlflowException, ValueError):
    """Rows that the model cannot forecast: missing columns, malformed values, unknown stores.

    An ``MlflowException`` with MLflow's "invalid parameter value" code, so that the scoring
    server (``mlflow models serve``) answers HTTP 400 with this message; any other exception
    raised in ``predict`` becomes a generic "unexpected error" there.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, error_code=INVALID_PARAMETER_VALUE)


@dataclass(frozen=True)
class MemberSpec:
    """One booster of the ensemble: its library and its settings from conf."""

    library: str
    num_rounds: int
    params: dict[str, Any]
    # True: it fits log1p(Sales) minus the store's level (``features.level_feature``), which
    # is added back to its forecasts (``training_target``, ``predict_member``).
    relative_to_level: bool = False
    # How many times ``training.fit_rows.max_rows`` rows this booster draws (1: the cap). Its
    # trees still sample as many rows each as at the cap (``for_rows``): more rows to learn
    # from across the trees, not larger trees.
    draw_factor: float = 1.0

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> "MemberSpec":
        """Build from ``params:training.members.<name>``.

        Raises:
            ValueError: ``relative_to_level`` is not true or false, or ``draw_factor`` is not
                a number of at least 1.
        """
        library = booster(params["library"]).library  # an unknown library is refused here
        relative = params.get("relative_to_level", False)
        if not isinstance(relative, bool):
            raise ValueError(
                f"relative_to_level of the {library} member must be true or false, not {relative!r}"
            )
        factor = params.get("draw_factor", 1)
        if isinstance(factor, bool) or not isinstance(factor, int | float) or not factor >= 1:
            raise ValueError(
                f"draw_factor of the {library} member must be a number of at least 1 (how many "
                f"times training.fit_rows.max_rows it draws), not {factor!r}"
            )
        return cls(
            library=library,
            num_rounds=int(params["num_rounds"]),
            params=dict(params["params"]),
            relative_to_level=relative,
            draw_factor=float(factor),
        )

    def for_rows(self, drawn: int, cap: int | None) -> "MemberSpec":
        """The settings a fit on ``drawn`` rows uses: beyond ``cap`` (a ``draw_factor`` above
        1), the share of rows each tree samples (``Booster.row_share``, 1 when not set) times
        ``cap / drawn``, so that each tree samples as many rows as it would at the cap.
        (LightGBM samples by ``bagging_fraction`` only with ``bagging_freq`` above 0.)"""
        if cap is None or drawn <= cap:
            return self
        name = booster(self.library).row_share
        share = float(self.params.get(name, 1.0)) * cap / drawn
        return replace(self, params={**self.params, name: share})


def fit_member(spec: MemberSpec, features: np.ndarray, target: np.ndarray) -> Any:
    """Fit one booster on float32 features and its target (``training_target``)."""
    return booster(spec.library).fit(spec.params, spec.num_rounds, features, target)


def save_member(library: str, model: Any, path: Path) -> None:
    """Write one booster in its library's own file format."""
    booster(library).save(model, path)


def load_member(library: str, path: Path) -> Any:
    """Read one booster written by ``save_member``."""
    return booster(library).load(path)


def training_target(sales: np.ndarray, level: np.ndarray | None = None) -> np.ndarray:
    """What a booster fits: log1p(Sales), minus the store's level for a member relative to it
    (``MemberSpec.relative_to_level``, ``features.level_feature``: it then learns how a day
    differs from the store's usual, in one shape for stores of every size)."""
    target = np.log1p(np.asarray(sales, dtype="float64"))
    return target if level is None else target - np.asarray(level, dtype="float64")


def predict_member(
    library: str, model: Any, features: np.ndarray, level: np.ndarray | None = None
) -> np.ndarray:
    """Log1p-scale predictions of one booster (its forecast plus ``level`` when its target
    was relative to it: ``training_target``)."""
    prediction = np.asarray(booster(library).predict(model, features), dtype="float64")
    return prediction if level is None else prediction + np.asarray(level, dtype="float64")


class RossmannEnsemble(mlflow.pyfunc.PythonModel):
    """Weighted blend of boosters on log1p(Sales), times an RMSPE scale correction."""

    def __init__(
        self,
        state: FeatureState | None = None,
        members: dict[str, tuple[str, Any]] | None = None,
        weights: dict[str, float] | None = None,
        scale: float = 1.0,
        feature_names: list[str] | None = None,
        lineage: dict[str, Any] | None = None,
        horizon_days: int | None = None,
        intervals: dict[str, Any] | None = None,
        relative_members: list[str] | None = None,
    ) -> None:
        # Empty when MLflow builds it from entrypoint.py; load_context fills it in.
        self.state = state
        self.members = members or {}
        self.weights = weights or {}
        self.scale = scale
        self.feature_names = feature_names or []
        self.lineage = dict(lineage or {})
        # How many days from its origin the procedure was validated for (the holdout's length).
        self.horizon_days = horizon_days
        # The quantiles' calibration (model.intervals.fit_calibration); None for a version
        # trained before forecasts had quantiles: its answer has Sales alone.
        self.intervals = intervals
        # Members whose target is relative to the store's level (MemberSpec.relative_to_level);
        # none in a version saved before members could be.
        self.relative_members = sorted(relative_members or [])

    @property
    def quantile_levels(self) -> list[float]:
        """The quantile levels the answer carries (empty for a version without quantiles)."""
        return list(self.intervals["levels"]) if self.intervals else []

    def signature(self) -> ModelSignature:
        """This model's signature (its quantile columns included)."""
        return model_signature(self.quantile_levels)

    def save_artifacts(self, directory: Path) -> dict[str, str]:
        """Write the model as plain files; returns MLflow's ``artifacts`` mapping."""
        directory.mkdir(parents=True, exist_ok=True)
        artifacts = {}
        for name, (library, model) in self.members.items():
            path = directory / f"{name}.{booster(library).suffix}"
            save_member(library, model, path)
            artifacts[f"member.{name}"] = str(path)
        save_state(self.state, directory / "feature_state")
        artifacts["feature_state"] = str(directory / "feature_state")
        header = {
            "members": {name: library for name, (library, _) in self.members.items()},
            "weights": self.weights,
            "scale": self.scale,
            "feature_names": self.feature_names,
            "lineage": self.lineage,
            "horizon_days": self.horizon_days,
            "intervals": self.intervals,
            "relative_to_level": self.relative_members,
        }
        (directory / "ensemble.json").write_text(json.dumps(header, indent=2, default=str))
        artifacts["ensemble"] = str(directory / "ensemble.json")
        return artifacts

    def load_context(self, context: Any) -> None:
        """MLflow entry point on load: read the files written by ``save_artifacts``."""
        artifacts = context.artifacts
        if "ensemble" not in artifacts:
            return
        header = json.loads(Path(artifacts["ensemble"]).read_text())
        self.members = {
            name: (library, load_member(library, Path(artifacts[f"member.{name}"])))
            for name, library in header["members"].items()
        }
        self.weights = header["weights"]
        self.scale = float(header["scale"])
        self.feature_names = header["feature_names"]
        self.lineage = header["lineage"]
        self.horizon_days = header.get("horizon_days")
        self.intervals = header.get("intervals")
        self.relative_members = sorted(header.get("relative_to_level") or [])
        self.state = load_state(Path(artifacts["feature_state"]))

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        """MLflow entry point: rows in the test format in, a ``Sales`` column out."""
        return self.predict_sales(model_input)

    def predict_sales(self, model_input: pd.DataFrame) -> pd.DataFrame:
        """Forecast Sales for rows in the Kaggle test format; closed stores get 0.

        With its quantiles (``Sales_p10``, ``Sales_p50``, ``Sales_p90`` by default): the point
        forecast times the calibrated offsets of the row's week of horizon and store group
        (``model.intervals``). Rows past the horizon the procedure was validated for are forecast, marked
        ``beyond_validated_horizon`` in the answer and warned about in the log (the scoring
        server's too).

        Raises:
            InvalidInputError: When a column is missing, a value is malformed, or a store is
                unknown to the model.
        """
        rows = self.prepare_input(model_input)
        sales = np.zeros(len(rows), dtype="float64")
        open_rows = rows["Open"].to_numpy() == 1
        classes = None
        if open_rows.any():
            started = time.perf_counter()
            matrix = self._feature_matrix(rows)
            if self.intervals and self.intervals.get("day_classes"):
                columns = {n: matrix[:, self.feature_names.index(n)] for n in DAY_CLASS_FEATURES}
                classes = day_classes(columns, self.intervals["day_classes"])
            matrix = matrix[open_rows]
            logs = self.member_log_predictions(matrix)
            blend = np.zeros(len(matrix), dtype="float64")
            for name, weight in self.weights.items():
                blend += weight * logs[name]
            sales[open_rows] = np.expm1(blend) * self.scale
            logger.debug(
                "Predicted %d open rows in %.2f s", len(matrix), time.perf_counter() - started
            )
        beyond = self.beyond_horizon(rows["Date"])
        if beyond.any():
            late = rows.loc[beyond, "Date"]
            logger.warning(
                "%d row(s) for %s..%s lie past the %d days after %s that this model was "
                "validated for: forecast anyway and marked %s=true",
                int(beyond.sum()),
                late.min().date(),
                late.max().date(),
                int(self.horizon_days),
                self.state.origin.date(),
                HORIZON_COLUMN,
            )
        answer = pd.DataFrame(
            {"Sales": sales, HORIZON_COLUMN: beyond.to_numpy(dtype=bool)}, index=model_input.index
        )
        if self.intervals:
            days_ahead = (rows["Date"] - self.state.origin).dt.days.to_numpy()
            bands = apply_calibration(
                self.intervals, rows["Store"].to_numpy(), days_ahead, sales, classes
            )
            for position, column in enumerate(quantile_columns(self.quantile_levels)):
                answer[column] = bands[:, position]
        return answer

    def member_log_predictions(self, matrix: np.ndarray) -> dict[str, np.ndarray]:
        """Each member's log1p-scale forecast of the rows of a feature matrix (in
        ``feature_names`` order), the store's level (``features.level_feature``) added back
        for a member whose target was relative to it."""
        level = (
            matrix[:, self.feature_names.index(level_feature(self.state.config))]
            if self.relative_members
            else None
        )
        return {
            name: predict_member(
                library, model, matrix, level if name in self.relative_members else None
            )
            for name, (library, model) in self.members.items()
        }

    def feature_matrix(self, model_input: pd.DataFrame) -> pd.DataFrame:
        """The features the boosters see for every row of a request, closed days included.

        The event counters are computed over the whole request (closed days are events), then
        the boosters see the rows that are open; this is what ``predict_sales`` uses, exposed so
        that tests can compare it with the training path.
        """
        rows = self.prepare_input(model_input)
        return pd.DataFrame(
            self._feature_matrix(rows), index=rows.index, columns=self.feature_names
        )

    def _feature_matrix(self, rows: pd.DataFrame) -> np.ndarray:
        features = features_for_request(rows, self.state)
        return features[self.feature_names].to_numpy(dtype="float32")

    def beyond_horizon(self, dates: pd.Series) -> pd.Series:
        """Which dates lie past the horizon the procedure was validated for (False if unknown)."""
        if self.horizon_days is None:
            return pd.Series(False, index=dates.index)
        end = self.state.origin + pd.Timedelta(days=int(self.horizon_days))
        return pd.to_datetime(dates) >= end

    def input_example(self, n_rows: int = 3) -> pd.DataFrame:
        """A few rows in the test format: the first days after the origin, stores it can forecast."""
        stores = sorted(self.state.stores_with_history)[:n_rows]
        dates = pd.date_range(self.state.origin, periods=len(stores))
        rows = pd.DataFrame(
            {
                "Store": stores,
                "DayOfWeek": dates.day_of_week + 1,
                "Date": dates,
                "Open": 1.0,
                "Promo": 0,
                "StateHoliday": "0",
                "SchoolHoliday": 0,
            }
        )
        return to_model_input(rows)

    def prepare_input(self, model_input: pd.DataFrame) -> pd.DataFrame:
        """Check and type rows in the test format, naming what is wrong.

        The rules, each refused in one line that names the column, the rule and a few rows:
        the columns of test.csv (Id optional, extra columns ignored); whole numbers in Store,
        DayOfWeek, Promo, SchoolHoliday; Date written ``YYYY-MM-DD`` (no other spelling, no
        time, no zone: ``05/08/2015`` is a guess either way); Open 0, 1 or missing (open);
        StateHoliday 0, a, b or c; DayOfWeek the ISO weekday of Date; each (Store, Date) and
        each Id at most once (a second row would get a second forecast, and change the event
        counters of the store's other rows); no date before the
        model's origin (it forecasts from there on); every store known to the model's
        store.csv and with sales in the longest statistics window before the origin (the model
        has nothing to forecast a store without history from).
        """
        if not isinstance(model_input, pd.DataFrame):
            raise InvalidInputError(f"Expected a DataFrame, got {type(model_input).__name__}")
        missing = [c for c in INPUT_COLUMNS if c not in model_input.columns and c != "Open"]
        if missing:
            raise InvalidInputError(
                f"Input is missing column(s) {missing}; expected the test.csv columns "
                f"{INPUT_COLUMNS} (Id optional)"
            )
        rows = pd.DataFrame(index=model_input.index)
        for column in ("Store", "DayOfWeek", "Promo", "SchoolHoliday"):
            rows[column] = _integer_column(model_input, column)
        rows["Date"] = _date_column(model_input)
        opened = model_input["Open"] if "Open" in model_input else pd.Series(1, index=rows.index)
        opened = pd.to_numeric(opened, errors="coerce").fillna(1)
        _refuse(~opened.isin([0, 1]), model_input, "Open", "must be 0, 1 or missing")
        rows["Open"] = opened.astype("int64")
        holiday = model_input["StateHoliday"].astype(str).str.strip()
        _refuse(
            ~holiday.isin(VALID_STATE_HOLIDAYS), model_input, "StateHoliday", "must be 0, a, b or c"
        )
        rows["StateHoliday"] = holiday
        _refuse(~rows["DayOfWeek"].between(1, 7), model_input, "DayOfWeek", "must be 1..7")
        for column in ("Promo", "SchoolHoliday"):
            _refuse(~rows[column].isin([0, 1]), model_input, column, "must be 0 or 1")
        _refuse(
            rows["DayOfWeek"] != rows["Date"].dt.day_of_week + 1,
            model_input,
            "DayOfWeek",
            "must be the ISO weekday of Date (1 = Monday)",
            also=["Date"],
        )
        self._check_stores(rows["Store"])
        _refuse_duplicates(model_input, rows, ["Store", "Date"], "one forecast per store and day")
        if "Id" in model_input.columns:
            _refuse_duplicates(model_input, model_input, ["Id"], "one forecast per Id")
        origin = self.state.origin
        last_day = origin - pd.Timedelta(days=1)
        _refuse(
            rows["Date"] < origin,
            model_input,
            "Date",
            f"is before the model's origin {origin.date()} (it was trained on sales up to "
            f"{last_day.date()} and forecasts from the day after)",
        )
        return rows

    def _check_stores(self, stores: pd.Series) -> None:
        """Refuse stores the model does not know, or knows without any sales to start from."""
        requested = {int(s) for s in stores.unique()}
        unknown = sorted(requested - self.state.known_stores)
        if unknown:
            raise InvalidInputError(
                f"Unknown store(s) {_few(unknown)} in column 'Store': this model knows "
                f"{len(self.state.known_stores)} stores from its store.csv"
            )
        no_history = sorted(requested - self.state.stores_with_history)
        if no_history:
            window = max(self.state.config.windows_days)
            raise InvalidInputError(
                f"Column 'Store': store(s) {_few(no_history)} have no sales in the {window} days "
                f"before the model's origin {self.state.origin.date()} (new, or closed all that "
                "time): the model has nothing to forecast them from; forecast them another way, "
                "or retrain once train.csv holds their sales"
            )


def _few(values: list[int]) -> str:
    return f"{values[:10]}{' ...' if len(values) > 10 else ''}"


def _integer_column(frame: pd.DataFrame, column: str) -> pd.Series:
    values = pd.to_numeric(frame[column], errors="coerce")
    _refuse(values.isna() | (values % 1 != 0), frame, column, "must be a whole number")
    return values.astype("int64")


def _date_column(frame: pd.DataFrame) -> pd.Series:
    """Date as datetime: ``YYYY-MM-DD`` text, or naive datetimes at midnight (typed callers)."""
    values = frame["Date"]
    if pd.api.types.is_datetime64_dtype(values) and not isinstance(
        values.dtype, pd.DatetimeTZDtype
    ):
        dates = values
        bad = dates.isna() | (dates != dates.dt.normalize())
    else:
        text = values.astype("string").str.strip()
        iso = text.str.fullmatch(DATE_PATTERN).fillna(False).astype(bool)
        dates = pd.to_datetime(text.where(iso), format=DATE_FORMAT, errors="coerce")
        bad = dates.isna()
    _refuse(bad, frame, "Date", "is not a date as YYYY-MM-DD (no other order, no time, no zone)")
    return dates


def _refuse(
    bad: pd.Series, frame: pd.DataFrame, column: str, rule: str, also: list[str] | None = None
) -> None:
    """Raise one line: the column, the rule, how many rows and the first few of them."""
    if not bool(bad.any()):
        return
    columns = [column, *(also or [])]
    where = " and ".join(repr(c) for c in columns)
    positions = np.flatnonzero(bad.to_numpy())
    examples = "; ".join(_describe_row(frame, int(p), columns) for p in positions[:MAX_ROWS_SHOWN])
    raise InvalidInputError(
        f"Column{'s' if also else ''} {where} {rule}: {len(positions)} bad row(s), e.g. {examples}"
    )


def _refuse_duplicates(
    frame: pd.DataFrame, typed: pd.DataFrame, key: list[str], meaning: str
) -> None:
    """Raise one line naming the repeated key values and the rows that repeat them.

    ``typed`` holds ``key`` as compared (dates parsed, numbers typed); ``frame`` the rows as
    given, for the message.
    """
    repeated = typed.duplicated(subset=key, keep="first")
    if not bool(repeated.any()):
        return
    first_rows = typed.reset_index(drop=True).groupby(key, sort=False).ngroup()
    first_of = first_rows.drop_duplicates(keep="first")
    first_position = pd.Series(first_of.index, index=first_of.to_numpy())
    positions = np.flatnonzero(repeated.to_numpy())
    examples = "; ".join(
        f"{_describe_row(frame, int(p), key)} repeats row "
        f"{int(first_position[first_rows.iloc[int(p)]]) + 1}"
        for p in positions[:MAX_ROWS_SHOWN]
    )
    where = " and ".join(repr(c) for c in key)
    noun = "Column" if len(key) == 1 else "Columns"
    raise InvalidInputError(
        f"{noun} {where} must be unique ({meaning}): {len(positions)} duplicate row(s), "
        f"e.g. {examples}"
    )


def _describe_row(frame: pd.DataFrame, position: int, columns: list[str]) -> str:
    """``row 5 (Id=5, Store=1): '05/08/2015'``: row 1 is the first data row."""
    row = frame.iloc[position]
    keys = [k for k in ("Id", "Store") if k in frame.columns and k not in columns]
    context = ", ".join(f"{k}={row[k]}" for k in keys)
    if len(columns) == 1:
        values = repr(_plain(row[columns[0]]))
    else:
        values = ", ".join(f"{c}={_plain(row[c])!r}" for c in columns)
    return (
        f"row {position + 1} ({context}): {values}" if context else f"row {position + 1}: {values}"
    )


def _plain(value: Any) -> Any:
    """numpy scalars as Python ones, so that messages show 3 and '2015-08-01', not np.int64(3)."""
    return value.item() if isinstance(value, np.generic) else value


def answer_through(model: Any, rows: pd.DataFrame) -> pd.DataFrame:
    """The pyfunc's whole answer for typed rows (Sales, the horizon mark, the quantiles), as
    inference calls it, indexed like ``rows``.

    Sales and Customers, if present, are dropped first: the model only sees the test format.
    """
    inputs = to_model_input(rows.drop(columns=["Sales", "Customers"], errors="ignore"))
    return model.predict(inputs).set_axis(rows.index)


def forecast_through(model: Any, rows: pd.DataFrame) -> pd.Series:
    """The point forecast (Sales) of typed rows through a loaded pyfunc (``answer_through``)."""
    return answer_through(model, rows)["Sales"].astype("float64")


def to_model_input(rows: pd.DataFrame) -> pd.DataFrame:
    """Typed rows (Date as datetime) in the exact test format the model's signature expects."""
    columns = [c for c in ["Id", *INPUT_COLUMNS] if c in rows.columns]
    out = rows[columns].copy()
    out["Date"] = pd.to_datetime(out["Date"]).dt.strftime("%Y-%m-%d").astype(object)
    out["StateHoliday"] = out["StateHoliday"].astype(str).astype(object)
    out["Open"] = pd.to_numeric(out["Open"], errors="coerce").astype("float64")
    for column in ("Store", "DayOfWeek", "Promo", "SchoolHoliday", "Id"):
        if column in out:
            out[column] = out[column].astype("int64")
    return out
