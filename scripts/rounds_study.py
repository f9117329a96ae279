"""How many boosting rounds each booster needs, measured over several forecast origins (issue 19).

The rounds in ``training.members`` used to be sized to a time budget; this study sizes them by
what they buy. In a throwaway copy of the project the real ``kedro run --pipelines
data_processing`` builds the training table (the synthetic default is generated first when no
``--data`` is given), then, at each of ``--origins`` forecast origins 42 days apart (the
holdout's and earlier ones: block starts, as the CV folds are), each booster is fitted once on
the rows before the origin, with the project's parameters and row draw
(``training.fit_rows``), for the largest number of rounds asked, and scored on the 42 days
after it after every number of rounds in ``--grid`` (staged prediction: one fit per booster
and origin). The equal blend of the three is scored at the configured rounds and at multiples
of them.

The score is RMSPE with the period's level error taken out (each forecast divided by its
period's geometric-mean ratio to the actuals, then the RMSPE-optimal scale), so that it reads
how well a booster's forecasts follow the days and stores, which rounds change, and not how far
the whole period's level happened to be off, which they do not. Written to
``benchmark/results/<date>-<commit>-rounds-study[-<label>].md``.

``--variant "catboost:bootstrap_type=Bernoulli,subsample=0.5"`` (repeatable) also fits that
booster with those library parameters changed (``num_rounds`` and ``relative_to_level`` change
the member itself) on the same rows at every origin: its curve and fit time are shown beside
the configured booster's, and the equal blend at the configured rounds is scored with the
variant in its booster's place. The same protocol, so a parameter is judged by what it buys
per origin and what it costs in fit time.

``--seeds 42,7`` fits every booster and variant once per seed (the library's own seed
parameter, ``Booster.seed_param``, set to it) and adds a table by seed: each booster alone at
its configured rounds, the equal blend, each variant in its booster's place and whether it is
better than the configured blend under every seed. A seed alone moves a booster by up to 3%
and the blend by up to 2.4% over the real dev slice's 7 origins (docs/benchmarks.md), so a
variant's gain counts only where it holds under every seed. The other tables are the first
seed's.

Usage: ``python scripts/rounds_study.py [--data DIR] [--origins 7] [--grid 100,200,...]
[--variant BOOSTER:KEY=VALUE,...] [--seeds S1,S2,...] [--label LABEL] [--env ENV]
[--n-stores N]``. About 4 minutes on the 82-store real dev slice and 12 on full-size synthetic
data (4 origins) on 2 cores; each variant adds its booster's share, and each seed after the
first as much again.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from kedro.config import OmegaConfigLoader

from rossmann_forecast.metrics import rescaled_rmspe
from rossmann_forecast.model.boosters import BOOSTERS, MEMBERS
from rossmann_forecast.model.ensemble import MemberSpec, fit_member
from rossmann_forecast.model.features import FeatureConfig, feature_names, level_feature
from rossmann_forecast.pipelines.training.nodes import fit_arrays, member_positions
from rossmann_forecast.settings import CONFIG_LOADER_ARGS

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import git_commit, now_utc, run_measured, write_study  # noqa: E402

from benchmark import make_project  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmark" / "results"
PERIOD_DAYS = 42
GRID = (100, 200, 300, 400, 500, 600, 800, 1000)
# The blend is scored at these multiples of the configured rounds (capped at the grid's end).
MULTIPLES = (0.5, 1.0, 1.5, 2.0)

# Each library's forecast after the first k rounds of one fitted booster, in log1p space.
STAGED: dict[str, Callable[[Any, np.ndarray, int], np.ndarray]] = {
    "lightgbm": lambda model, x, k: model.predict(x, num_iteration=k),
    "xgboost": lambda model, x, k: model.inplace_predict(x, iteration_range=(0, k)),
    "catboost": lambda model, x, k: model.predict(x, ntree_end=k),
}


def level_free_rmspe(actual: np.ndarray, log_forecast: np.ndarray) -> float:
    """RMSPE of ``expm1(log_forecast)`` with the period's level error taken out: at the one
    constant scale that suits the period best (``metrics.rescaled_rmspe``, what the gate
    compares Production on), so what is left is the error of the forecast's shape over stores
    and days."""
    return rescaled_rmspe(actual, np.expm1(np.asarray(log_forecast, dtype="float64")))


def study_origins(table: pd.DataFrame, holdout_origin: pd.Timestamp, count: int) -> list:
    """The origins scored, oldest first: the holdout's and the block starts 42 days apart before
    it that have rows to score and rows to fit on."""
    starts = set(pd.to_datetime(table["block_origin"].unique()))
    first = table["Date"].min()
    origins = []
    for k in range(count):
        origin = holdout_origin - pd.Timedelta(days=PERIOD_DAYS * k)
        if origin in starts and origin > first:
            origins.append(origin)
    return sorted(origins)


def score_origin(
    table: pd.DataFrame,
    origin: pd.Timestamp,
    members: dict[str, dict[str, Any]],
    names: list[str],
    fit_rows: dict[str, Any] | None,
    rounds: list[int],
    level: str,
) -> dict[str, Any]:
    """Each booster fitted once before ``origin``; its staged forecasts of the block after it.

    Returns:
        ``actual`` (the scored rows' sales), ``logs`` (member -> rounds -> log forecasts) and
        ``seconds`` (member -> fit time at the largest number of rounds).
    """
    before = (table["Date"] < origin).to_numpy()
    scored = table[(table["block_origin"] == origin) & (table["Sales"] > 0)]
    scored = scored[scored[level].notna()]  # a store without a level is not served
    x_scored = scored[names].to_numpy(dtype=np.float32)
    # As training fits them: the member's draw (member_positions), log1p(Sales) or relative to
    # the store's level (fit_arrays with it: training_target), which is added back to the
    # staged forecasts as predict_member does. Members that draw alike share their arrays.
    arrays: dict[tuple[float, bool], tuple[np.ndarray, np.ndarray]] = {}
    logs: dict[str, dict[int, np.ndarray]] = {}
    seconds: dict[str, float] = {}
    for name, member in members.items():
        spec = MemberSpec.from_params({**member, "num_rounds": max(rounds)})
        positions, spec = member_positions(before, fit_rows, spec)
        key = (spec.draw_factor, spec.relative_to_level)
        if key not in arrays:
            arrays[key] = fit_arrays(
                table, positions, names, level if spec.relative_to_level else None
            )
        started = time.perf_counter()
        model = fit_member(spec, *arrays[key])
        seconds[name] = time.perf_counter() - started
        added = x_scored[:, names.index(level)].astype("float64") if spec.relative_to_level else 0
        logs[name] = {k: STAGED[spec.library](model, x_scored, k) + added for k in rounds}
        print(f"{origin.date()} {name}: {seconds[name]:.0f} s", flush=True)
    return {"actual": scored["Sales"].to_numpy(dtype="float64"), "logs": logs, "seconds": seconds}


# A variant's member keys (the rest of its settings are library parameters).
MEMBER_KEYS = ("num_rounds", "relative_to_level")


def parse_variant(text: str, members: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """``"catboost:bootstrap_type=Bernoulli,subsample=0.5"`` -> (its label, the member settings:
    the configured booster's with those changed). Values are read as YAML scalars.

    Raises:
        ValueError: Not ``BOOSTER:KEY=VALUE,...``, or a booster that is not a member.
    """
    booster, sep, settings = text.partition(":")
    if not sep or booster not in members or not settings:
        raise ValueError(
            f"--variant {text!r}: expected BOOSTER:KEY=VALUE,... with BOOSTER one of "
            f"{sorted(members)}"
        )
    member = {**members[booster], "params": dict(members[booster]["params"])}
    for item in settings.split(","):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--variant {text!r}: {item!r} is not KEY=VALUE")
        target = member if key.strip() in MEMBER_KEYS else member["params"]
        target[key.strip()] = yaml.safe_load(value.strip())
    label = f"{BOOSTERS[booster].label} ({', '.join(s.strip() for s in settings.split(','))})"
    return label, {**member, "variant_of": booster}


def parse_seeds(text: str | None) -> list[int | None]:
    """``"42,7"`` -> ``[42, 7]``; none given -> ``[None]`` (each member's configured seed).

    Raises:
        ValueError: Not a comma-separated list of distinct integers.
    """
    if text is None:
        return [None]
    try:
        seeds = [int(item) for item in text.split(",")]
    except ValueError:
        raise ValueError(f"--seeds {text!r}: expected integers separated by commas") from None
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds {text!r}: a seed is given twice")
    return seeds


def seed_conflicts(members: dict[str, dict[str, Any]], variants: dict[str, str]) -> list[str]:
    """The variants that set their library's seed parameter to something else than their
    booster's (``--seeds`` sets every member's, so it would overwrite theirs)."""
    conflicts = []
    for name, of in variants.items():
        param = BOOSTERS[members[name]["library"]].seed_param
        if members[name]["params"].get(param) != members[of]["params"].get(param):
            conflicts.append(f"{name} sets {param!r}")
    return conflicts


def with_seed(member: dict[str, Any], seed: int | None) -> dict[str, Any]:
    """The member with its library's seed parameter (``Booster.seeded``) set to ``seed``;
    ``None`` leaves it as configured."""
    if seed is None:
        return member
    return {**member, "params": BOOSTERS[member["library"]].seeded(member["params"], seed)}


def by_seed(
    summaries: dict[int, dict[str, Any]],
    configured: dict[str, int],
    variants: dict[str, str],
) -> dict[str, Any]:
    """Mean over origins per seed: each member alone at its configured rounds, the equal blend,
    each variant in its booster's place and its change against the blend under every seed.

    Returns:
        ``members`` and ``swapped`` (name -> seed -> mean RMSPE), ``blend`` (seed -> mean
        RMSPE) and ``verdicts`` (variant -> ``better``, ``worse`` or ``mixed``: better under
        every seed, worse under every seed, or neither: within a seed's reach).
    """
    seeds = list(summaries)

    def mean(values: dict[str, float]) -> float:
        return float(np.mean(list(values.values())))

    members = {name: {seed: mean(summaries[seed]["alone"][name]) for seed in seeds}
               for name in configured}  # fmt: skip
    blend = {seed: mean(summaries[seed]["blends"][1.0]["rmspe"]) for seed in seeds}
    swapped = {
        name: {seed: mean(summaries[seed]["swapped"][name]) for seed in seeds} for name in variants
    }
    verdicts = {}
    for name, scores in swapped.items():
        better = [scores[seed] < blend[seed] for seed in seeds]
        worse = [scores[seed] > blend[seed] for seed in seeds]
        verdicts[name] = "better" if all(better) else "worse" if all(worse) else "mixed"
    return {"members": members, "blend": blend, "swapped": swapped, "verdicts": verdicts}


VERDICTS = {
    "better": "better under every seed",
    "worse": "worse under every seed",
    "mixed": "mixed: within a seed's reach",
}


def render_by_seed(table: dict[str, Any], labels: dict[str, str]) -> str:
    """The by-seed table as Markdown (``by_seed``'s result)."""
    seeds = list(table["blend"])
    lines = ["## By seed: mean over origins at the configured rounds", ""]
    lines.append("| | " + " | ".join(f"seed {s}" for s in seeds) + " | mean | spread |")
    lines.append("|---|" + "---:|" * (len(seeds) + 2))

    def row(label: str, scores: dict[int, float], against: dict[int, float] | None) -> str:
        cells = []
        for seed in seeds:
            cell = f"{scores[seed]:.4f}"
            if against is not None:
                cell += f" ({(scores[seed] / against[seed] - 1) * 100:+.1f}%)"
            cells.append(cell)
        values = list(scores.values())
        return (
            f"| {label} | " + " | ".join(cells)
            + f" | {np.mean(values):.4f} | {(max(values) / min(values) - 1) * 100:.1f}% |"
        )  # fmt: skip

    for name, scores in table["members"].items():
        lines.append(row(f"{labels.get(name) or BOOSTERS[name].label} alone", scores, None))
    lines.append(row("the equal blend (x1)", table["blend"], None))
    for name, scores in table["swapped"].items():
        label = labels.get(name, name)
        lines.append(row(f"x1, {label} in its booster's place", scores, table["blend"]))
    if table["verdicts"]:
        lines += ["", "Each variant against the configured blend with the same seed:", ""]
        lines += [
            f"- {labels.get(name, name)}: {VERDICTS[verdict]}"
            for name, verdict in table["verdicts"].items()
        ]
    lines.append("")
    lines.append(
        "Spread: the largest over the smallest, less one. A variant's gain counts only where it "
        "holds under every seed; the configured blend's spread is what a seed alone moves it."
    )
    return "\n".join(lines) + "\n"


def blend_rounds(configured: dict[str, int], multiple: float, largest: int) -> dict[str, int]:
    """The configured rounds times ``multiple``, capped at the largest fitted."""
    return {name: min(round(k * multiple), largest) for name, k in configured.items()}


def summarise(
    scored: dict[pd.Timestamp, dict[str, Any]],
    configured: dict[str, int],
    grid: list[int],
    variants: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Per member: the level-free RMSPE by rounds (mean over origins and per origin) and at its
    configured rounds (``alone``); the equal blend at multiples of the configured rounds;
    seconds per 100 rounds.

    ``variants`` (name -> the member it stands in for) are members of ``configured`` too: they
    get a curve, and the blend at the configured rounds with each in its member's place.
    """
    variants = variants or {}
    curves = {
        name: {
            k: {
                str(o.date()): level_free_rmspe(s["actual"], s["logs"][name][k])
                for o, s in scored.items()
            }
            for k in grid
        }
        for name in configured
    }
    base = {name: k for name, k in configured.items() if name not in variants}
    blends = {}
    for multiple in MULTIPLES:
        rounds = blend_rounds(base, multiple, max(grid))
        blends[multiple] = {
            "rounds": rounds,
            "rmspe": {
                str(o.date()): level_free_rmspe(
                    s["actual"], np.mean([s["logs"][n][k] for n, k in rounds.items()], axis=0)
                )
                for o, s in scored.items()
            },
        }
    swapped = {}
    for name, member in variants.items():
        rounds = {**{n: k for n, k in blend_rounds(base, 1.0, max(grid)).items() if n != member},
                  name: min(configured[name], max(grid))}  # fmt: skip
        swapped[name] = {
            str(o.date()): level_free_rmspe(
                s["actual"], np.mean([s["logs"][n][k] for n, k in rounds.items()], axis=0)
            )
            for o, s in scored.items()
        }
    alone = {
        name: {
            str(o.date()): level_free_rmspe(s["actual"], s["logs"][name][min(k, max(grid))])
            for o, s in scored.items()
        }
        for name, k in configured.items()
    }
    per_100 = {
        name: float(np.mean([s["seconds"][name] for s in scored.values()])) / max(grid) * 100
        for name in configured
    }
    return {
        "curves": curves,
        "blends": blends,
        "swapped": swapped,
        "alone": alone,
        "seconds_per_100_rounds": per_100,
    }


def render(
    summary: dict[str, Any],
    configured: dict[str, int],
    header: str,
    labels: dict[str, str] | None = None,
) -> str:
    """The study as Markdown: member curves, the blend at multiples, per-origin detail.

    ``labels``: a variant's name -> how its rows are headed (members: their booster's label).
    """
    labels = labels or {}
    curves, blends = summary["curves"], summary["blends"]
    grid = sorted(next(iter(curves.values())))
    lines = [header, "", "## Each booster alone: level-free RMSPE by rounds, mean over origins", ""]
    lines.append("| booster | configured | s / 100 rounds | " + " | ".join(map(str, grid)) + " |")
    lines.append("|---|---:|---:|" + "---:|" * len(grid))
    for name, by_rounds in curves.items():
        means = [np.mean(list(by_rounds[k].values())) for k in grid]
        best = min(means)
        cells = [f"**{m:.4f}**" if m == best else f"{m:.4f}" for m in means]
        lines.append(
            f"| {labels.get(name) or BOOSTERS[name].label} | {configured[name]} | "
            f"{summary['seconds_per_100_rounds'][name]:.1f} | " + " | ".join(cells) + " |"
        )
    origins = list(next(iter(blends.values()))["rmspe"])
    lines += ["", "## The equal blend at multiples of the configured rounds", ""]
    lines.append("| rounds | " + " | ".join(origins) + " | mean | vs configured |")
    lines.append("|---|" + "---:|" * (len(origins) + 2))
    base = np.mean(list(blends[1.0]["rmspe"].values()))
    for multiple, blend in blends.items():
        values = list(blend["rmspe"].values())
        rounds = "/".join(str(k) for k in blend["rounds"].values())
        lines.append(
            f"| x{multiple:g} ({rounds}) | "
            + " | ".join(f"{v:.4f}" for v in values)
            + f" | {np.mean(values):.4f} | {(np.mean(values) / base - 1) * 100:+.1f}% |"
        )
    for name, by_origin in summary.get("swapped", {}).items():
        values = list(by_origin.values())
        lines.append(
            f"| x1, {labels.get(name, name)} in its booster's place | "
            + " | ".join(f"{v:.4f}" for v in values)
            + f" | {np.mean(values):.4f} | {(np.mean(values) / base - 1) * 100:+.1f}% |"
        )
    return "\n".join(lines) + "\n"


def project_parameters(project: Path, env: str | None) -> dict[str, Any]:
    """The copy's parameters as a run in ``env`` would merge them."""
    args = {**CONFIG_LOADER_ARGS, "default_run_env": env or "local"}
    loader = OmegaConfigLoader(conf_source=str(project / "conf"), **args)
    return loader["parameters"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="folder of Kaggle files")
    parser.add_argument("--n-stores", type=int, default=1115, help="synthetic stores")
    parser.add_argument("--env", default=None, help="Kedro environment of the run")
    parser.add_argument("--origins", type=int, default=None, help="7 real, 4 synthetic")
    parser.add_argument("--grid", default=",".join(map(str, GRID)), help="rounds to score at")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        help="BOOSTER:KEY=VALUE,... also fitted and blended in its booster's place (repeatable)",
    )
    parser.add_argument(
        "--seeds", default=None, help="S1,S2,...: fit every booster once per seed (by-seed table)"
    )
    parser.add_argument("--label", default=None)
    parser.add_argument("--results", type=Path, default=RESULTS)
    return parser.parse_args()


def model_input(args: argparse.Namespace) -> tuple[pd.DataFrame, dict, dict, dict[str, Any]]:
    """In a throwaway copy of the project, the real ``kedro run --pipelines data_processing``:
    the training table, its feature settings, its forecast origins and the copy's training
    parameters."""
    with tempfile.TemporaryDirectory(prefix="rounds-study-") as tmp:
        base = Path(tmp)
        raw = args.data.resolve() if args.data else None
        project, env = make_project(base, args.n_stores, raw)
        if args.env:
            env = {**env, "KEDRO_ENV": args.env}
        kedro = str(Path(sys.executable).with_name("kedro"))
        steps = [] if args.data else [["data", "synthesize"]]
        for step in [*steps, ["run", "--pipelines", "data_processing"]]:
            result = run_measured(f"kedro {' '.join(step)}", [kedro, *step], project, env)
            if not result.ok:
                print(result.output[-4000:])
                sys.exit(f"kedro {' '.join(step)} failed")
        folder = project / "data" / "05_model_input"
        return (
            pd.read_parquet(folder / "model_input_table.parquet"),
            json.loads((folder / "feature_settings.json").read_text()),
            json.loads((folder / "forecast_origins.json").read_text()),
            project_parameters(project, args.env)["training"],
        )


def header_text(args: argparse.Namespace, origins: list, seeds: list[int | None]) -> str:
    commit, dirty = git_commit(ROOT)
    data = (
        f"the Kaggle files in `{args.data.name}`"
        if args.data
        else "full-size synthetic data"
        if args.n_stores == 1115
        else f"synthetic data, {args.n_stores} stores"
    )
    command = " ".join(["python scripts/rounds_study.py", *sys.argv[1:]])
    header = (
        f"# Boosting rounds, measured: {data}\n\n`{command}` at commit `{commit}`"
        f"{' with uncommitted changes' if dirty else ''}, {now_utc()}: {len(origins)} origins "
        f"42 days apart ({origins[0].date()} to {origins[-1].date()}), each booster fitted once "
        "per origin on the rows before it and scored on the 42 days after it, with the "
        "period's level error taken out (see the script's docstring)."
    )
    if seeds != [None]:
        header += (
            f" Every booster fitted with seeds {', '.join(map(str, seeds))}; the tables before "
            f"the last are seed {seeds[0]}'s."
        )
    return header


def main() -> None:
    args = parse_args()
    grid = sorted({int(k) for k in args.grid.split(",")})
    count = args.origins or (7 if args.data else 4)
    try:
        seeds = parse_seeds(args.seeds)
    except ValueError as error:
        sys.exit(str(error))
    table, settings, origins_file, params = model_input(args)
    config = FeatureConfig.from_params(settings)
    names = feature_names(config)
    members = {name: params["members"][name] for name in MEMBERS}
    labels, variants = {}, {}
    for k, text in enumerate(args.variant, start=1):
        label, member = parse_variant(text, {name: members[name] for name in MEMBERS})
        name = f"variant{k}"
        variants[name] = member.pop("variant_of")
        labels[name] = label
        members[name] = member
    conflicts = seed_conflicts(members, variants) if seeds != [None] else []
    if conflicts:
        sys.exit(f"--seeds sets every booster's seed, but {'; '.join(conflicts)}")
    configured = {name: int(member["num_rounds"]) for name, member in members.items()}
    rounds = sorted(
        set(grid) | {k for m in MULTIPLES for k in blend_rounds(configured, m, max(grid)).values()}
    )
    origins = study_origins(table, pd.Timestamp(origins_file["holdout_origin"]), count)
    summaries = {}
    for seed in seeds:
        if seed is not None:
            print(f"seed {seed}", flush=True)
        seeded = {name: with_seed(member, seed) for name, member in members.items()}
        scored = {
            origin: score_origin(
                table, origin, seeded, names, params.get("fit_rows"), rounds, level_feature(config)
            )
            for origin in origins
        }
        summaries[seed] = summarise(scored, configured, grid, variants)
    text = render(summaries[seeds[0]], configured, header_text(args, origins, seeds), labels)
    if seeds != [None]:
        text += "\n" + render_by_seed(by_seed(summaries, configured, variants), labels)
    write_study(text, args.results, git_commit(ROOT)[0], "rounds-study", args.label)


if __name__ == "__main__":
    main()
