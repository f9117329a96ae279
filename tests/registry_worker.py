"""A separate process that changes the registry, for the concurrency and SIGKILL tests.

Usage: python registry_worker.py MODEL promote --reason R [--version N] [--user U]
       [--barrier DIR --name NAME]
Reads the tracking URI from MLFLOW_TRACKING_URI; prints one JSON line with the outcome. With a
barrier, it connects first, writes DIR/NAME.ready and starts only once DIR/go exists, so that
several workers really act at the same moment.
Exit 0 on success, 1 on a refusal, 75 on a lock timeout.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from mlflow.tracking import MlflowClient

from rossmann_forecast.registry import LockTimeout, ModelRegistry, RegistryError


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("model_name")
    parser.add_argument("command", choices=["promote"])
    parser.add_argument("--reason", required=True)
    parser.add_argument("--version", type=int, default=None)
    parser.add_argument("--user", default=None)
    parser.add_argument("--barrier", type=Path, default=None)
    parser.add_argument("--name", default="worker")
    parser.add_argument("--lock-wait", type=float, default=60.0)
    args = parser.parse_args()

    registry = ModelRegistry(
        args.model_name, MlflowClient(), lock_ttl_seconds=60, lock_wait_seconds=args.lock_wait
    )
    if args.barrier is not None:
        registry.client.search_registered_models(max_results=1)  # connect before the start
        (args.barrier / f"{args.name}.ready").touch()
        deadline = time.monotonic() + 120
        while not (args.barrier / "go").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
    try:
        result = registry.promote(reason=args.reason, version=args.version, user=args.user)
    except LockTimeout as exc:
        timeout = {"ok": False, "error": "LockTimeout", "message": str(exc)}
        sys.stdout.write(json.dumps(timeout) + "\n")
        return 75
    except RegistryError as exc:
        error = {"ok": False, "error": type(exc).__name__, "message": str(exc)}
        sys.stdout.write(json.dumps(error) + "\n")
        return 1
    outcome = {
        "ok": True,
        "version": result.version,
        "previous_production": result.previous_production,
        "seq": result.seq,
    }
    sys.stdout.write(json.dumps(outcome) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
