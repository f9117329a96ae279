"""Where the project lives on disk."""

from pathlib import Path

from kedro.utils import find_kedro_project


def project_root() -> Path:
    """Return the root of the Kedro project being run.

    The working directory (or one of its parents) wins, so that a copy of the project, as the
    end-to-end tests make, uses its own data and registry; the source checkout is the fallback.
    """
    found = find_kedro_project(Path.cwd())
    if found is not None:
        return Path(found).resolve()
    return Path(__file__).resolve().parents[2]
