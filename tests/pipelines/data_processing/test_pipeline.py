"""data_processing pipeline: in memory with SequentialRunner, and end to end with `kedro run`."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from kedro.io import DataCatalog
from kedro.runner import SequentialRunner
from kedro_datasets.pandas import ParquetDataset
from mlflow import MlflowClient
from mlflow.artifacts import download_artifacts
from mlflow.models import Model

from rossmann_forecast.model.ensemble import INPUT_SCHEMA
from rossmann_forecast.model.features import FeatureConfig, feature_names
from rossmann_forecast.pipelines.data_processing import create_pipeline
from rossmann_forecast.pipelines.data_processing.pipeline import create_raw_pipeline
from rossmann_forecast.raw.schemas import RawDataError
from rossmann_forecast.raw.synthetic import write_raw_files
from tests.conftest import make_kedro_project

VALIDATED = ("sales_validated", "stores_validated", "test_validated")


def fingerprint() -> dict:
    return {
        "source": "real",
        "synthetic": None,
        "files": {
            name: {"path": f"data/01_raw/{name}", "sha256": "0" * 64, "dvc_md5": None}
            for name in ("train.csv", "store.csv", "test.csv")
        },
    }


def memory_catalog(raw_frames: dict[str, pd.DataFrame], tmp_path: Path) -> DataCatalog:
    """Raw tables in memory; validated tables in Parquet (as in the project, and kept after
    the run, whereas the runner releases intermediate memory datasets)."""
    catalog = DataCatalog()
    for name in VALIDATED:
        catalog[name] = ParquetDataset(filepath=(tmp_path / f"{name}.parquet").as_posix())
    catalog["sales_raw"] = raw_frames["train.csv"]
    catalog["stores_raw"] = raw_frames["store.csv"]
    catalog["test_raw"] = raw_frames["test.csv"]
    catalog["raw_data_fingerprint"] = fingerprint()
    catalog["params:data_processing.max_days_past_data_end"] = 7
    return catalog


def test_pipeline_has_the_raw_layer_nodes():
    names = {node.name for node in create_pipeline().nodes}

    assert {
        "validate_sales",
        "validate_stores",
        "validate_test",
        "check_stores_known",
        "build_raw_data_lineage",
    } <= names


def test_raw_pipeline_gives_typed_tables_and_lineage(raw_frames, tmp_path):
    catalog = memory_catalog(raw_frames, tmp_path)

    SequentialRunner().run(create_raw_pipeline(), catalog)

    sales = catalog.load("sales_validated")
    assert str(sales["Date"].dtype) == "datetime64[us]"
    assert str(sales["StateHoliday"].dtype) == "str"
    assert str(catalog.load("test_validated")["Open"].dtype) == "Int64"
    assert len(sales) == len(raw_frames["train.csv"])
    lineage = catalog.load("raw_data_lineage")
    assert lineage["source"] == "real"
    assert lineage["files"]["test.csv"]["rows"] == len(raw_frames["test.csv"])


def test_unknown_store_stops_before_any_validated_table(raw_frames, tmp_path):
    raw_frames["train.csv"].loc[0, "Store"] = 99
    catalog = memory_catalog(raw_frames, tmp_path)

    with pytest.raises(RawDataError, match="known_to_store_csv"):
        SequentialRunner().run(create_raw_pipeline(), catalog)

    assert not any(catalog.exists(name) for name in VALIDATED)


# --- end to end: real `kedro run` in a copy of the project -----------------------------------


def read_lineage(project) -> dict:
    path = project.path / "data" / "02_intermediate" / "raw_data_lineage.json"
    return json.loads(path.read_text())


def test_run_without_raw_files_stops_at_once_and_says_what_to_do(kedro_project):
    result = kedro_project.run("--pipelines", "data_processing")

    assert result.returncode != 0
    assert (
        "data/01_raw/train.csv is missing: drop the Kaggle files there or run "
        "`kedro data synthesize`" in result.output
    )
    assert "Running node" not in result.output
    assert list(kedro_project.raw_dir.iterdir()) == []  # kedro run never writes raw files
    assert list((kedro_project.path / "data" / "02_intermediate").iterdir()) == []


def test_synthesize_then_run_uses_synthetic_data_with_its_lineage(kedro_project):
    synthesized = kedro_project.synthesize()
    result = kedro_project.run("--pipelines", "data_processing")

    assert "Wrote synthetic Rossmann data (30 stores, seed 42) to data/01_raw" in (
        synthesized.stdout
    )
    assert result.returncode == 0, result.output
    assert (kedro_project.raw_dir / "synthetic.json").exists()
    intermediate = kedro_project.path / "data" / "02_intermediate"
    sales = pd.read_parquet(intermediate / "sales_validated.parquet")
    assert sales["Store"].nunique() == 30  # conf/test: 30 stores
    lineage = read_lineage(kedro_project)
    assert lineage["source"] == "synthetic"
    assert lineage["synthetic"] == {"seed": 42, "n_stores": 30}
    assert lineage["files"]["train.csv"]["path"] == "data/01_raw/train.csv"
    assert lineage["files"]["train.csv"]["rows"] == len(sales)
    assert len(lineage["files"]["store.csv"]["sha256"]) == 64


def test_synthesize_options_override_conf_and_real_files_are_refused(
    kedro_project, raw_frames, write_raw_csvs
):
    small = kedro_project.synthesize("--n-stores", "5", "--seed", "3")
    marker = json.loads((kedro_project.raw_dir / "synthetic.json").read_text())
    (kedro_project.raw_dir / "synthetic.json").unlink()
    paths = write_raw_csvs(kedro_project.raw_dir, raw_frames)
    before = {name: path.read_bytes() for name, path in paths.items()}

    refused = kedro_project.kedro("data", "synthesize", "-e", "test")

    assert "5 stores, seed 3" in small.stdout
    assert (marker["n_stores"], marker["seed"]) == (5, 3)
    assert refused.returncode == 1
    assert "real files are never overwritten" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert {name: path.read_bytes() for name, path in paths.items()} == before


def change_one_byte_of_customers(train_csv: Path) -> None:
    """Change the last digit of Customers on the file's last line: one byte, still valid."""
    lines = train_csv.read_text().splitlines(keepends=True)
    fields = lines[-1].split(",")
    customers = fields[4]
    fields[4] = customers[:-1] + ("1" if customers[-1] != "1" else "2")
    lines[-1] = ",".join(fields)
    train_csv.write_text("".join(lines))


def test_synthetic_files_with_one_byte_changed_count_as_real(kedro_project):
    kedro_project.synthesize()
    train_csv = kedro_project.raw_dir / "train.csv"
    size = train_csv.stat().st_size
    change_one_byte_of_customers(train_csv)
    assert train_csv.stat().st_size == size

    result = kedro_project.run("--pipelines", "data_processing")

    assert result.returncode == 0, result.output
    assert "Raw data lineage: real data" in result.output
    lineage = read_lineage(kedro_project)
    assert lineage["source"] == "real"
    assert lineage["synthetic"] is None


def test_real_files_are_used_as_they_are(kedro_project, raw_frames, write_raw_csvs):
    paths = write_raw_csvs(kedro_project.raw_dir, raw_frames)
    before = {name: path.read_bytes() for name, path in paths.items()}

    # Five days are valid raw files but too short to forecast from: run the raw layer only.
    result = kedro_project.run(
        "--pipelines", "data_processing", "--to-nodes", "build_raw_data_lineage"
    )

    assert result.returncode == 0, result.output
    assert {name: path.read_bytes() for name, path in paths.items()} == before
    assert not (kedro_project.raw_dir / "synthetic.json").exists()
    lineage = read_lineage(kedro_project)
    assert lineage["source"] == "real"
    assert lineage["files"]["train.csv"]["rows"] == len(raw_frames["train.csv"])


def test_bad_file_fails_the_run_and_writes_nothing_downstream(
    kedro_project, raw_frames, write_raw_csvs
):
    raw_frames["train.csv"].loc[2, "Sales"] = -5
    write_raw_csvs(kedro_project.raw_dir, raw_frames)

    result = kedro_project.run("--pipelines", "data_processing")

    assert result.returncode != 0
    assert "RawDataError" in result.output
    assert "train.csv failed validation" in result.output
    assert "greater_than_or_equal_to(0)" in result.output
    intermediate = kedro_project.path / "data" / "02_intermediate"
    assert list(intermediate.iterdir()) == []


def test_partial_set_of_kaggle_files_fails_the_run(kedro_project, raw_frames, write_raw_csvs):
    write_raw_csvs(kedro_project.raw_dir, {"store.csv": raw_frames["store.csv"]})

    result = kedro_project.run("--pipelines", "data_processing")

    assert result.returncode != 0
    assert "holds store.csv but not train.csv, test.csv" in " ".join(result.output.split())
    assert "Running node" not in result.output
    assert not (kedro_project.raw_dir / "train.csv").exists()


def test_a_train_file_too_short_to_forecast_from_is_refused_clearly(
    kedro_project, raw_frames, write_raw_csvs
):
    write_raw_csvs(kedro_project.raw_dir, raw_frames)

    result = kedro_project.run("--pipelines", "data_processing")

    assert result.returncode != 0
    assert "train.csv covers 5 days (2015-07-27 .. 2015-07-31)" in result.output
    assert not (
        kedro_project.path / "data" / "05_model_input" / "model_input_table.parquet"
    ).exists()


# --- issue 10: dates in one spelling, empty files, extra columns ------------------------------


def _registered_versions(project) -> list:
    client = MlflowClient(tracking_uri=project.env["MLFLOW_TRACKING_URI"])
    return client.search_model_versions("name='rossmann-ensemble'")


def test_day_first_dates_in_train_csv_are_refused_before_anything_is_registered(kedro_project):
    """`31/07/2015` (first date unambiguous) used to be read day first and trained on.

    The `kedro run` layer of the raw files' date rule; every spelling (day or month first, a
    time, a zone, unpadded) in train.csv and test.csv: tests/raw/test_schemas.py.
    """
    paths = write_raw_files(kedro_project.raw_dir, n_stores=30, seed=42)
    train = pd.read_csv(paths["train.csv"], dtype={"StateHoliday": str})
    dates = pd.to_datetime(train["Date"])
    train.assign(Date=dates.dt.strftime("%d/%m/%Y")).to_csv(paths["train.csv"], index=False)

    result = kedro_project.run()

    assert result.returncode != 0
    message = " ".join(result.output.split())
    assert "train.csv failed validation" in message
    assert "column 'Date', rule 'type date' (dates as YYYY-MM-DD, no time, no zone)" in message
    assert "line 2 (Store=1): Date='31/07/2015'" in message
    assert "day_of_week_matches_date" not in message
    assert _registered_versions(kedro_project) == []
    assert list((kedro_project.path / "data" / "02_intermediate").iterdir()) == []


@pytest.mark.parametrize("file_name", ["train.csv", "store.csv"])
def test_a_zero_byte_raw_file_is_named_in_the_message(
    kedro_project, raw_frames, write_raw_csvs, file_name
):
    write_raw_csvs(kedro_project.raw_dir, raw_frames)
    (kedro_project.raw_dir / file_name).write_bytes(b"")

    result = kedro_project.run()

    assert result.returncode != 0
    assert f"{file_name} is empty (0 bytes): data/01_raw/{file_name}" in result.output
    assert "EmptyDataError" not in result.output
    assert _registered_versions(kedro_project) == []
    assert list((kedro_project.path / "data" / "02_intermediate").iterdir()) == []


NEW_STORE = 30  # in store.csv and test.csv, without a single row in train.csv


@pytest.fixture(scope="module")
def trained_on_an_export(tmp_path_factory):
    """`kedro run` on Kaggle files as an export may give them: train.csv with an extra Note
    column, and a store listed in store.csv (and test.csv) that has no sales rows at all."""
    project = make_kedro_project(tmp_path_factory.mktemp("export"))
    paths = write_raw_files(project.raw_dir, n_stores=30, seed=42)
    train = pd.read_csv(paths["train.csv"], dtype={"StateHoliday": str})
    train = train.loc[train["Store"] != NEW_STORE].reset_index(drop=True)
    train.insert(4, "Note", ["checked" if i % 3 else "" for i in range(len(train))])
    train.to_csv(paths["train.csv"], index=False)
    result = project.run()
    assert result.returncode == 0, result.output[-6000:]
    return project, result


def test_an_extra_column_in_train_csv_is_ignored_with_a_warning(trained_on_an_export):
    project, result = trained_on_an_export

    assert "train.csv has a column the model does not use: 'Note' (ignored)" in result.output
    settings = json.loads((project.path / "data/05_model_input/feature_settings.json").read_text())
    table = pd.read_parquet(project.path / "data/05_model_input/model_input_table.parquet")
    expected = feature_names(FeatureConfig.from_params(settings))
    assert list(table.columns) == ["Store", "Date", "Sales", "block_origin", *expected]
    sales = pd.read_parquet(project.path / "data/02_intermediate/sales_validated.parquet")
    assert "Note" not in sales.columns
    client = MlflowClient(tracking_uri=project.env["MLFLOW_TRACKING_URI"])
    source = client.get_model_version_download_uri("rossmann-ensemble", "1")
    info = Model.load(download_artifacts(artifact_uri=source))
    assert info.signature.inputs == INPUT_SCHEMA


def test_a_store_without_sales_history_is_refused_at_prediction(trained_on_an_export, tmp_path):
    project, _ = trained_on_an_export
    test = pd.read_csv(project.raw_dir / "test.csv", dtype={"StateHoliday": str})
    assert NEW_STORE in set(test["Store"])
    output = tmp_path / "out.csv"

    result = project.kedro(
        "model", "predict", "--version", "1", "--output", str(output), "-e", "test"
    )

    assert result.returncode == 1, result.output
    assert f"store(s) [{NEW_STORE}] have no sales in the 364 days before" in result.stderr
    assert "Traceback" not in result.stderr
    assert not output.exists()


# --- issue 20 case 5: rows after the data's end; a failed run leaves the previous tables ------

TABLE_LAYERS = ("02_intermediate", "03_primary", "04_feature", "05_model_input")


def _tables(project) -> dict[str, bytes]:
    """Every file of data/02_intermediate .. data/05_model_input, by path, with its bytes."""
    data = project.path / "data"
    return {
        path.relative_to(data).as_posix(): path.read_bytes()
        for layer in TABLE_LAYERS
        for path in sorted((data / layer).rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def processed(tmp_path_factory):
    """A project whose data_processing ran once on synthetic data: the tables a later run
    must leave as they are when it is refused or fails."""
    project = make_kedro_project(tmp_path_factory.mktemp("processed"))
    project.synthesize()
    result = project.run("--pipelines", "data_processing")
    assert result.returncode == 0, result.output[-6000:]
    tables = _tables(project)
    assert "05_model_input/model_input_table.parquet" in tables
    return project, tables


@pytest.fixture
def train_csv(processed):
    """train.csv of the processed project, put back as it was after the test."""
    project, _ = processed
    path = project.raw_dir / "train.csv"
    original = path.read_bytes()
    yield path
    path.write_bytes(original)


def _with_row(train_csv: Path, store: int, date: str) -> int:
    """Append one open day of ``store`` on ``date``; returns its line number in the file."""
    train = pd.read_csv(train_csv, dtype={"StateHoliday": str})
    row = train.loc[train["Store"] == store].iloc[[0]].copy()
    day = pd.Timestamp(date)
    row = row.assign(Date=date, DayOfWeek=day.day_of_week + 1)
    pd.concat([train, row], ignore_index=True).to_csv(train_csv, index=False)
    return len(train) + 2  # header is line 1


@pytest.mark.parametrize(
    ("date", "rule"),
    [
        ("2015-10-01", "rule 'before_test_start' (history must end before test.csv starts"),
        ("2030-01-01", "rule 'within_data_end' (at most 7 days after 2015-07-31"),
    ],
    ids=["after-test-start", "far-future"],
)
def test_a_train_row_after_the_datas_end_is_refused_naming_it(processed, train_csv, date, rule):
    """One row of store 7 dated after the data's end: it moved the holdout and the origin to
    itself (a one-row holdout), or failed 80 s later in the CV folds without naming the row,
    with data/02..05 already rewritten from it."""
    project, tables = processed
    line = _with_row(train_csv, store=7, date=date)

    result = project.run("--pipelines", "data_processing")

    assert result.returncode == 1, result.output[-3000:]
    message = " ".join(result.stderr.split())
    assert "train.csv failed validation" in message
    assert f"column 'Date', {rule}" in message
    assert f"1 row, e.g. line {line} (Store=7): Date={date}" in message
    assert "Running node: split_holdout" not in result.output
    assert _tables(project) == tables


def test_a_run_that_fails_halfway_leaves_the_previous_tables(processed, train_csv):
    """train.csv cut to its last 100 days passes the raw checks (its three validated tables
    are written) and then fails in split_holdout: the tables of the run before stand."""
    project, tables = processed
    train = pd.read_csv(train_csv, dtype={"StateHoliday": str})
    recent = pd.to_datetime(train["Date"]) > pd.to_datetime(train["Date"]).max() - pd.Timedelta(
        days=100
    )
    train.loc[recent].to_csv(train_csv, index=False)

    result = project.run("--pipelines", "data_processing")

    assert result.returncode == 1, result.output[-3000:]
    assert "train.csv covers 100 days" in result.stderr
    assert "Saving data to sales_validated" in result.output  # it did begin to write
    assert _tables(project) == tables
    assert not (project.path / "data" / ".previous_outputs").exists()
