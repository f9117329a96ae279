"""A team's MLflow server on loopback: PostgreSQL backend store, proxied artifacts, permissions.

    python scripts/team_server.py start   # `make server`: prints the URI and the environment
    python scripts/team_server.py stop    # `make server-stop`: stops MLflow, then PostgreSQL
    python scripts/team_server.py status

Everything lives in one project-local folder (default `.team-server/`, git-ignored):
``pg/data`` (a throwaway PostgreSQL cluster: Debian's `postgresql` binaries, installed with
apt-get when missing and run as root), ``artifacts/`` (the server's own artifact store, proxied
through `--serve-artifacts`), ``basic_auth.ini`` and ``admin.env`` (permissions), logs and
``state.json`` (ports and pids, read by `stop`). Stopping keeps the data: `start` again brings
the same registry back; delete the folder to start from scratch.

PostgreSQL listens on 127.0.0.1 only and trusts local connections (a development cluster, not a
production database). With ``--auth`` (the default) the server runs MLflow's authentication app:
the admin's password comes from MLFLOW_AUTH_ADMIN_PASSWORD, or is generated into ``admin.env``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from pathlib import Path

# MLflow 3.17's FastAPI app (imported by its auth client) warns about Starlette's WSGI
# middleware: MLflow's own import, nothing this script can change.
warnings.filterwarnings("ignore", message="starlette.middleware.wsgi is deprecated")

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_STATE_DIR = PROJECT_ROOT / ".team-server"
PG_SUPERUSER = "postgres"
DATABASES = ("mlflow", "mlflow_auth")
START_TIMEOUT_SECONDS = 120


class TeamServerError(Exception):
    """The server could not be started or stopped; the message says why."""


# ------------------------------------------------------------------------------ PostgreSQL
def _pg_bin_dir() -> Path:
    """The folder of PostgreSQL's server binaries (initdb, pg_ctl), installing them if missing."""
    candidates = []
    if os.environ.get("PG_BIN"):
        candidates.append(Path(os.environ["PG_BIN"]))
    candidates += sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True
    )
    found = shutil.which("pg_ctl")
    if found:
        candidates.append(Path(found).resolve().parent)
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("PostgreSQL is missing: installing Debian's postgresql with apt-get", flush=True)
        apt = ["apt-get", "-o", "DPkg::Lock::Timeout=600"]
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run([*apt, "update", "-qq"], check=True, env=env)
        subprocess.run([*apt, "install", "-y", "-qq", "postgresql"], check=True, env=env)
        return _pg_bin_dir()
    raise TeamServerError(
        "PostgreSQL's initdb/pg_ctl were not found (looked in $PG_BIN, /usr/lib/postgresql/*/bin "
        "and PATH): install PostgreSQL (Debian: `apt-get install -y postgresql`) or set PG_BIN."
    )


def _as_pg_user(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run its commands as the `postgres` user."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", PG_SUPERUSER, "--", *command]


def _check_reachable_by_postgres(folder: Path) -> None:
    """As root the cluster runs as `postgres`, which must be able to enter every parent folder."""
    if os.geteuid() != 0:
        return
    for parent in [folder, *folder.parents]:
        if parent.exists() and not parent.stat().st_mode & 0o001:
            raise TeamServerError(
                f"{parent} is not searchable by other users, so the `postgres` user cannot reach "
                f"the cluster in {folder}: use a --state-dir under a world-searchable folder "
                f"(or `chmod o+x {parent}`)."
            )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        # As the server will: connections of a just-stopped server in TIME_WAIT do not count.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def start_postgres(state_dir: Path, port: int) -> Path:
    """Create (first time) and start the throwaway cluster; returns its binaries' folder."""
    bin_dir = _pg_bin_dir()
    pg_dir = state_dir / "pg"
    data = pg_dir / "data"
    _check_reachable_by_postgres(state_dir)
    pg_dir.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(pg_dir, PG_SUPERUSER, PG_SUPERUSER)
    if not (data / "PG_VERSION").exists():
        subprocess.run(
            _as_pg_user(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(data),
                    "-A",
                    "trust",
                    "-U",
                    PG_SUPERUSER,
                    "-E",
                    "UTF8",
                    "--no-instructions",
                ]
            ),  # fmt: skip
            check=True,
            stdout=subprocess.DEVNULL,
        )
    options = f"-p {port} -k {pg_dir} -c listen_addresses=127.0.0.1"
    started = subprocess.run(
        _as_pg_user(
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(pg_dir / "postgres.log"),
                "-w",
                "-t",
                "60",
                "start",
            ]
        ),  # fmt: skip
        capture_output=True,
        text=True,
        check=False,
    )
    if started.returncode != 0:
        log = (pg_dir / "postgres.log").read_text(errors="replace")[-2000:]
        raise TeamServerError(f"PostgreSQL did not start: {started.stderr.strip()}\n{log}")
    _create_databases(port)
    return bin_dir


def _create_databases(port: int) -> None:
    import psycopg2  # noqa: PLC0415  (the `team` extra)

    connection = psycopg2.connect(host="127.0.0.1", port=port, user=PG_SUPERUSER, dbname="postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        for name in DATABASES:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cursor.fetchone() is None:
                cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()


def stop_postgres(state_dir: Path, bin_dir: str | None) -> None:
    data = state_dir / "pg" / "data"
    if not (data / "postmaster.pid").exists():
        return
    pg_ctl = str(Path(bin_dir) / "pg_ctl") if bin_dir else str(_pg_bin_dir() / "pg_ctl")
    subprocess.run(
        _as_pg_user([pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"]),
        check=False,
        stdout=subprocess.DEVNULL,
    )


# ------------------------------------------------------------------------------ MLflow
def _auth_files(state_dir: Path, pg_port: int) -> dict[str, str]:
    """Write basic_auth.ini (users and permissions in PostgreSQL) and the admin's credentials."""
    admin_env = state_dir / "admin.env"
    known = {}
    if admin_env.exists():
        for line in admin_env.read_text().splitlines():
            key, _, value = line.partition("=")
            known[key] = value
    username = os.environ.get("MLFLOW_AUTH_ADMIN_USERNAME") or known.get(
        "MLFLOW_TRACKING_USERNAME", "admin"
    )
    password = os.environ.get("MLFLOW_AUTH_ADMIN_PASSWORD") or known.get(
        "MLFLOW_TRACKING_PASSWORD", secrets.token_urlsafe(18)
    )
    secret_key = os.environ.get("MLFLOW_FLASK_SERVER_SECRET_KEY") or known.get(
        "MLFLOW_FLASK_SERVER_SECRET_KEY", secrets.token_hex(24)
    )
    ini = state_dir / "basic_auth.ini"
    ini.write_text(
        "[mlflow]\n"
        "# Everybody may read; changing a registered model needs EDIT/MANAGE or ownership.\n"
        "default_permission = READ\n"
        f"database_uri = postgresql://{PG_SUPERUSER}@127.0.0.1:{pg_port}/mlflow_auth\n"
        f"admin_username = {username}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        "# Checking a password (PBKDF2) costs ~0.3 s of CPU, and one `kedro run` makes hundreds\n"
        "# of requests (one per logged parameter): remember a checked password for a minute.\n"
        "# One worker, so a changed password or permission is seen at once (see MLflow's\n"
        "# basic_auth.ini on caches across workers).\n"
        "auth_cache_ttl_seconds = 60\n"
    )
    admin_env.write_text(
        f"MLFLOW_TRACKING_USERNAME={username}\nMLFLOW_TRACKING_PASSWORD={password}\n"
        f"MLFLOW_FLASK_SERVER_SECRET_KEY={secret_key}\n"
    )
    admin_env.chmod(0o600)
    return {
        "MLFLOW_AUTH_CONFIG_PATH": str(ini),
        "MLFLOW_AUTH_ADMIN_USERNAME": username,
        "MLFLOW_AUTH_ADMIN_PASSWORD": password,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": secret_key,
    }


def start_mlflow(
    state_dir: Path, port: int, pg_port: int, *, auth: bool, local_webhooks: bool
) -> subprocess.Popen:
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    command = [
        str(mlflow_bin), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--backend-store-uri", f"postgresql://{PG_SUPERUSER}@127.0.0.1:{pg_port}/mlflow",
        "--serve-artifacts", "--artifacts-destination", str(state_dir / "artifacts"),
        "--default-artifact-root", "mlflow-artifacts:/",
    ]  # fmt: skip
    env = {**os.environ}
    for key in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        env.pop(key, None)
    if auth:
        command += ["--app-name", "basic-auth"]
        env.update(_auth_files(state_dir, pg_port))
    if local_webhooks:
        # MLflow only delivers to public https endpoints unless told otherwise.
        env["MLFLOW_WEBHOOK_ALLOWED_SCHEMES"] = "http,https"
        env["MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS"] = "true"
    log = (state_dir / "mlflow.log").open("a")
    return subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=state_dir,
        env=env,
        start_new_session=True,
    )


def _wait_healthy(uri: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise TeamServerError(f"mlflow server exited:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TeamServerError(f"mlflow server did not answer {uri}/health within 120 s; see {log}")


def _stop_process_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.killpg(pid, signal.SIGKILL)


# ------------------------------------------------------------------------------ users
PERMISSIONS = ("READ", "EDIT", "MANAGE")


def add_user(state_dir: Path, name: str, password: str, permission: str, model: str,
             experiments: list[str]) -> None:  # fmt: skip
    """As the admin: create ``name`` (if new) and grant ``permission`` on the registered model.

    READ may list, describe, load and predict; EDIT may also register versions and move
    aliases (the gate's service user); MANAGE may also delete versions (retention) and grant.
    Everybody gets EDIT on ``experiments`` (training and prediction runs are logged there);
    EDIT and MANAGE users also on the registry's journal (``<model>-lifecycle``), where every
    change is recorded. Experiments and the model are created here when missing.
    """
    import mlflow  # noqa: PLC0415
    from mlflow.exceptions import MlflowException  # noqa: PLC0415
    from mlflow.server import get_app_client  # noqa: PLC0415

    state = _read_state(state_dir)
    if not state or not state.get("auth"):
        raise TeamServerError(f"No team server with permissions is running from {state_dir}.")
    admin = dict(
        line.split("=", 1) for line in (state_dir / "admin.env").read_text().splitlines() if line
    )
    os.environ["MLFLOW_TRACKING_USERNAME"] = admin["MLFLOW_TRACKING_USERNAME"]
    os.environ["MLFLOW_TRACKING_PASSWORD"] = admin["MLFLOW_TRACKING_PASSWORD"]
    auth = get_app_client("basic-auth", tracking_uri=state["uri"])
    client = mlflow.MlflowClient(tracking_uri=state["uri"], registry_uri=state["uri"])
    try:
        auth.create_user(name, password)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    try:
        client.get_registered_model(model)
    except MlflowException:
        client.create_registered_model(model)
    _grant(auth, name, "registered_model", model, permission)
    journal = [f"{model}-lifecycle"] if permission != "READ" else []
    for experiment in [*experiments, *journal]:
        found = client.get_experiment_by_name(experiment)
        experiment_id = found.experiment_id if found else client.create_experiment(experiment)
        _grant(auth, name, "experiment", experiment_id, "EDIT")


def _grant(auth, user: str, resource_type: str, resource_id: str, permission: str) -> None:  # noqa: ANN001
    """Grant, or replace an earlier grant (running add-user twice changes the permission)."""
    from mlflow.exceptions import MlflowException  # noqa: PLC0415

    try:
        auth.grant_user_permission(user, resource_type, resource_id, permission)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        auth.revoke_user_permission(user, resource_type, resource_id)
        auth.grant_user_permission(user, resource_type, resource_id, permission)


# ------------------------------------------------------------------------------ commands
def _read_state(state_dir: Path) -> dict | None:
    state_file = state_dir / "state.json"
    return json.loads(state_file.read_text()) if state_file.exists() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def start(
    state_dir: Path, port: int, pg_port: int | None, auth: bool, local_webhooks: bool
) -> dict:
    state = _read_state(state_dir)
    if state and _alive(state["mlflow_pid"]):
        raise TeamServerError(
            f"The team server is already running at {state['uri']} (pid {state['mlflow_pid']}); "
            "`make server-stop` stops it."
        )
    if not _port_is_free(port):
        raise TeamServerError(f"Port {port} on 127.0.0.1 is taken: pass another --port.")
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / "artifacts").mkdir(exist_ok=True)
    pg_port = pg_port or _free_port()
    bin_dir = start_postgres(state_dir, pg_port)
    uri = f"http://127.0.0.1:{port}"
    state = {
        "uri": uri,
        "port": port,
        "pg_port": pg_port,
        "pg_bin": str(bin_dir),
        "auth": auth,
        "state_dir": str(state_dir),
        "backend_store_uri": f"postgresql://{PG_SUPERUSER}@127.0.0.1:{pg_port}/mlflow",
    }
    try:
        process = start_mlflow(state_dir, port, pg_port, auth=auth, local_webhooks=local_webhooks)
        state["mlflow_pid"] = process.pid
        (state_dir / "state.json").write_text(json.dumps(state, indent=2) + "\n")
        _wait_healthy(uri, process, state_dir / "mlflow.log")
    except BaseException:
        stop(state_dir)
        raise
    return state


def stop(state_dir: Path) -> bool:
    """Stop MLflow, then PostgreSQL; returns whether anything was running."""
    state = _read_state(state_dir)
    running = False
    if state and state.get("mlflow_pid") and _alive(state["mlflow_pid"]):
        _stop_process_group(state["mlflow_pid"])
        running = True
    if (state_dir / "pg" / "data" / "postmaster.pid").exists():
        stop_postgres(state_dir, state.get("pg_bin") if state else None)
        running = True
    (state_dir / "state.json").unlink(missing_ok=True)
    return running


def _print_started(state: dict, state_dir: Path) -> None:
    print(f"✓ PostgreSQL on 127.0.0.1:{state['pg_port']} (data in {state_dir / 'pg'})")
    print(f"✓ MLflow server at {state['uri']} (pid {state['mlflow_pid']})")
    print(f"  backend store: {state['backend_store_uri']}")
    print(f"  artifacts:     {state_dir / 'artifacts'} (proxied: mlflow-artifacts:/)")
    print("Point the project at it:")
    print(f"  export MLFLOW_TRACKING_URI={state['uri']}")
    if state["auth"]:
        print(f"  permissions on: the admin's credentials are in {state_dir / 'admin.env'}")
        print("  export MLFLOW_TRACKING_USERNAME=<you> MLFLOW_TRACKING_PASSWORD=<yours>")
    print("  kedro run -e server   # then: kedro model status -e server")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["start", "stop", "status", "add-user"])
    parser.add_argument("user", nargs="?", help="add-user: the user's name")
    parser.add_argument("--permission", choices=PERMISSIONS, default="READ")
    parser.add_argument("--model", default="rossmann-ensemble", help="The registered model.")
    parser.add_argument(
        "--experiment",
        action="append",
        default=None,
        help="Experiments every user logs runs to (default: rossmann-forecast).",
    )
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    parser.add_argument("--port", type=int, default=int(os.environ.get("TEAM_SERVER_PORT", "5000")))
    parser.add_argument("--pg-port", type=int, default=None, help="Default: a free port.")
    parser.add_argument("--no-auth", dest="auth", action="store_false", help="Without permissions.")
    parser.add_argument(
        "--local-webhooks",
        action="store_true",
        help="Let webhooks deliver to http:// and private addresses (a receiver on loopback).",
    )
    return parser


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace, state_dir: Path) -> int:
    if args.command == "start":
        state = start(state_dir, args.port, args.pg_port, args.auth, args.local_webhooks)
        _print_started(state, state_dir)
    elif args.command == "add-user":
        if not args.user:
            parser.error("add-user needs the user's name")
        password = os.environ.get("TEAM_USER_PASSWORD")
        if not password:
            parser.error("add-user reads the new user's password from TEAM_USER_PASSWORD")
        experiments = args.experiment or ["rossmann-forecast"]
        add_user(state_dir, args.user, password, args.permission, args.model, experiments)
        print(f"✓ {args.user}: {args.permission} on registered model {args.model}")
    elif args.command == "stop":
        was_running = stop(state_dir)
        print("✓ Team server stopped" if was_running else "The team server was not running")
    else:
        state = _read_state(state_dir)
        if not (state and _alive(state["mlflow_pid"])):
            print("not running")
            return 1
        print(f"running: {state['uri']} (pid {state['mlflow_pid']}, PostgreSQL "
              f"127.0.0.1:{state['pg_port']})")  # fmt: skip
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return _run(parser, args, args.state_dir.resolve())
    except (TeamServerError, subprocess.CalledProcessError) as exc:
        print(f"team server: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # e.g. the server refused a request: one line, not a traceback
        if type(exc).__module__.startswith("mlflow"):
            print(f"team server: {exc}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
