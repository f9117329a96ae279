"""``kedro run --params``: every key must name a parameter the project has.

Kedro merges ``--params`` into the configuration as given: ``validation.treshold=0.05`` adds a
parameter no node reads and the run uses the old threshold without a word. The keys a user may
set are the parameters in conf (every level, e.g. ``validation.threshold``), the keys the
catalog reads with ``${runtime_params:...}`` (``validation.version``, ``inference.input_path``)
and any key under a ``params`` mapping (a booster library's own parameters, passed through as
they are). Anything else is refused before the run starts, naming the nearest known key.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

# Keys below a mapping of this name are a library's own parameters: any name the library knows.
OPEN_MAPPINGS = ("params",)
_RUNTIME_PARAM = re.compile(r"\$\{runtime_params:\s*([A-Za-z0-9_.]+)")


def flat_keys(params: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Every dotted key of a nested mapping, at every level (``a``, ``a.b``, ``a.b.c``)."""
    keys = []
    for name, value in params.items():
        key = f"{prefix}{name}"
        keys.append(key)
        if isinstance(value, Mapping):
            keys.extend(flat_keys(value, f"{key}."))
    return keys


def leaf_keys(params: Mapping[str, Any], prefix: str = "") -> list[str]:
    """The dotted keys of a nested mapping's values (``--params a.b=1,c=2`` -> a.b, c)."""
    keys = []
    for name, value in params.items():
        key = f"{prefix}{name}"
        if isinstance(value, Mapping) and value:
            keys.extend(leaf_keys(value, f"{key}."))
        else:
            keys.append(key)
    return keys


def catalog_runtime_keys(conf_dirs: Iterable[Path]) -> set[str]:
    """The keys the catalog files of ``conf_dirs`` read with ``${runtime_params:<key>, ...}``."""
    found: set[str] = set()
    for directory in conf_dirs:
        for path in sorted(directory.glob("**/catalog*.yml")):
            found.update(_RUNTIME_PARAM.findall(path.read_text()))
    return found


def unknown_params(
    given: Mapping[str, Any], parameters: Mapping[str, Any], runtime_keys: Iterable[str]
) -> list[str]:
    """One line per key of ``given`` that no parameter or catalog entry knows.

    Args:
        given: ``--params`` as Kedro parsed it (nested).
        parameters: The configuration's parameters, without ``--params``.
        runtime_keys: Keys the catalog reads from ``--params``.

    Returns:
        ``"'validation.treshold' (did you mean 'validation.threshold'?)"`` per unknown key.
    """
    known = set(flat_keys(parameters)) | set(runtime_keys)
    open_prefixes = tuple(f"{key}." for key in known if key.rsplit(".", 1)[-1] in OPEN_MAPPINGS)
    problems = []
    for key in leaf_keys(given):
        if key in known or key.startswith(open_prefixes):
            continue
        nearest = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
        if nearest:
            problems.append(f"'{key}' (did you mean '{nearest[0]}'?)")
        else:
            group = key.split(".", 1)[0]
            siblings = sorted(k for k in known if k.startswith(f"{group}.") and k.count(".") == 1)
            groups = sorted(k for k in known if "." not in k)
            hint = (
                f"known in '{group}': {', '.join(siblings)}"
                if siblings
                else f"groups: {', '.join(groups)}"
            )
            problems.append(f"'{key}' ({hint})")
    return problems
