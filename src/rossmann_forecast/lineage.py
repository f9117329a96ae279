"""Lineage of a model version: where its data, code and settings came from.

The data part is computed by a training node from the pipeline's own inputs; the environment
part (MLflow run, git commit) is captured when the model is registered. Both end up as tags
on the model version (set when the version is created, so a version never exists without
them) and on its run.
"""

from __future__ import annotations

import json
import logging
import subprocess
from pathlib import Path
from typing import Any

from rossmann_forecast.model.boosters import BOOSTERS

logger = logging.getLogger(__name__)

# MLflow limits tag values; anything longer is stored whole in the run's lineage.json artifact.
MAX_TAG_LENGTH = 5000


def git_state(directory: Path) -> dict[str, Any]:
    """The commit checked out in ``directory`` and whether the work tree differs from it."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True, text=True, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=directory,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        logger.warning("No git commit found in %s: lineage records commit 'unknown'", directory)
        return {"commit": "unknown", "dirty": None}
    return {"commit": commit, "dirty": bool(status.strip())}


def _tag_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= MAX_TAG_LENGTH else text[: MAX_TAG_LENGTH - 3] + "..."


def lineage_tags(lineage: dict[str, Any]) -> dict[str, str]:
    """Flatten a lineage record into ``lineage.*`` and ``cv.*`` tags.

    Nested dicts become dotted keys one level deep (``lineage.raw.train.csv.sha256`` would be
    unreadable, so raw files keep their own short keys); lists and deeper values are JSON.
    """
    tags: dict[str, str] = {}
    for key, value in lineage.items():
        if key == "cv_metrics":
            tags.update({f"cv.{k}": f"{v:.6f}" for k, v in value.items()})
        elif key == "raw_files":
            for name, info in value.items():
                stem = name.removesuffix(".csv")
                tags[f"lineage.data.{stem}.sha256"] = str(info.get("sha256"))
                tags[f"lineage.data.{stem}.rows"] = str(info.get("rows"))
                if info.get("dvc_md5"):
                    tags[f"lineage.data.{stem}.dvc_md5"] = str(info["dvc_md5"])
        elif isinstance(value, dict) and key != "hyperparameters":
            for sub, item in value.items():
                tags[f"lineage.{key}.{sub}"] = _tag_value(item)
        else:
            tags[f"lineage.{key}"] = _tag_value(value)
    tags["lineage.complete"] = "true"
    return tags


def version_description(name: str, lineage: dict[str, Any]) -> str:
    """A description a reviewer reads in the MLflow UI in ten seconds."""
    cv = lineage.get("cv_metrics", {})
    weights = lineage.get("ensemble_weights", {})
    window = lineage.get("training_window", {})
    source = lineage.get("data_source", {})
    git = lineage.get("git", {})
    backtest = lineage.get("backtest", {})
    folds = lineage.get("cv_folds", {})
    data = (
        f"synthetic data (seed {source.get('seed')}, {source.get('n_stores')} stores)"
        if source.get("source") == "synthetic"
        else "the real Kaggle files"
    )
    members = ", ".join(
        f"{n} {cv.get(f'rmspe_{n}', float('nan')):.4f} (w={weights.get(n, 0):.2f})"
        for n in weights or BOOSTERS
    )
    dirty = " (uncommitted changes)" if git.get("dirty") else ""
    left_out = lineage.get("features_left_out") or []
    without = (
        f" (without {len(left_out)} customer features: no Customers column)" if left_out else ""
    )
    validated_by = (
        f"Validated by its backtest {backtest.get('model_uri')}: the same procedure fit on the "
        f"rows up to {backtest.get('end')}, forecasting from {backtest.get('origin')}.\n"
        if backtest
        else ""
    )
    relative = [
        BOOSTERS[params["library"]].label
        for params in (lineage.get("hyperparameters") or {}).values()
        if params.get("relative_to_level") and params.get("library") in BOOSTERS
    ]
    windows = (lineage.get("feature_settings") or {}).get("windows_days") or ["?"]
    target = (
        f"log1p(Sales) ({' and '.join(relative)} relative to the store's {max(windows)}-day level)"
        if relative
        else "log1p(Sales)"
    )
    return (
        f"{name}: {' + '.join(b.label for b in BOOSTERS.values())} ensemble on {target}, "
        f"{lineage.get('ensemble_method', 'fitted')} weights, scale "
        f"{float(lineage.get('ensemble_scale', float('nan'))):.3f}.\n"
        f"CV RMSPE {cv.get('rmspe_ensemble', float('nan')):.4f} over {len(folds) or '?'} "
        f"6-week folds from {', '.join(folds.values()) or '?'}; members: {members}.\n"
        f"Trained on {data}{without}, {window.get('start')} .. {window.get('end')}, "
        f"{window.get('rows'):,} rows; forecasts from {window.get('origin')}.\n"
        f"{validated_by}"
        f"Code: git {str(git.get('commit'))[:10]}{dirty}; run {lineage.get('run_id')}.\n"
        "Gate verdict, stage and history: the validation.* and lifecycle.* tags, or "
        "`kedro model describe N`."
    )
