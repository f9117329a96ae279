"""data_processing pipeline: in memory with SequentialRunner, and end to end with `kedro run`."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from kedro.io import DataCatalog
from kedro.runner import SequentialRunner
from kedro_datasets.pandas import ParquetDataset

from rossmann_forecast.pipelines.data_processing import create_pipeline
from rossmann_forecast.pipelines.data_processing.pipeline import create_raw_pipeline
from rossmann_forecast.schemas import RawDataError

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
