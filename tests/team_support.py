"""A real team server for the tests: `scripts/team_server.py` (PostgreSQL + mlflow server with
MLflow's authentication app) started in a throwaway folder, with users of each permission."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tests.registry_support import free_port

REPO_ROOT = Path(__file__).resolve().parents[1]
SCRIPT = REPO_ROOT / "scripts" / "team_server.py"
MODEL = "rossmann-ensemble"


@dataclass
class TeamServer:
    """A running team server: its URI, its state folder and the admin's credentials."""

    uri: str
    state_dir: Path
    admin: dict[str, str] = field(repr=False)
    passwords: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def state(self) -> dict:
        return json.loads((self.state_dir / "state.json").read_text())

    def script(self, *args: str, user: str | None = None) -> subprocess.CompletedProcess:
        """``python scripts/team_server.py <args> --state-dir <this server's folder>``."""
        env = {**os.environ}
        if user is not None:
            env.update(self.credentials(user))
        return subprocess.run(
            [sys.executable, str(SCRIPT), *args, "--state-dir", str(self.state_dir)],
            capture_output=True, text=True, timeout=300, check=False, env=env,
        )  # fmt: skip

    def add_user(self, name: str, permission: str) -> None:
        password = f"{name}-password-123"
        result = subprocess.run(
            [sys.executable, str(SCRIPT), "add-user", name, "--permission", permission,
             "--state-dir", str(self.state_dir)],
            capture_output=True, text=True, timeout=120, check=False,
            env={**os.environ, "TEAM_USER_PASSWORD": password},
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        self.passwords[name] = password

    def credentials(self, user: str) -> dict[str, str]:
        """The environment a person (or the service user) sets to act as ``user``."""
        if user == self.admin["MLFLOW_TRACKING_USERNAME"]:
            return dict(self.admin)
        return {"MLFLOW_TRACKING_USERNAME": user, "MLFLOW_TRACKING_PASSWORD": self.passwords[user]}


def start_team_server() -> TeamServer:
    """Start PostgreSQL + ``mlflow server --app-name basic-auth`` through the script."""
    # As root the cluster runs as `postgres`, which must be able to enter the folder: pytest's
    # own temporary folders are private (0700), so this one is made beside them.
    root = Path(tempfile.mkdtemp(prefix="rossmann-team-server-"))
    root.chmod(0o755)
    state_dir = root / "state"
    started = subprocess.run(
        [sys.executable, str(SCRIPT), "start", "--state-dir", str(state_dir),
         "--port", str(free_port()), "--local-webhooks"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    if started.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"team server did not start:\n{started.stdout}\n{started.stderr}")
    state = json.loads((state_dir / "state.json").read_text())
    admin = dict(
        line.split("=", 1) for line in (state_dir / "admin.env").read_text().splitlines() if line
    )
    admin = {k: v for k, v in admin.items() if k.startswith("MLFLOW_TRACKING_")}
    server = TeamServer(uri=state["uri"], state_dir=state_dir, admin=admin)
    server.start_output = started.stdout  # type: ignore[attr-defined]
    return server


def stop_team_server(server: TeamServer) -> None:
    server.script("stop")
    shutil.rmtree(server.state_dir.parent, ignore_errors=True)


class WebhookReceiver:
    """A team endpoint on loopback that records every delivery (headers and raw body)."""

    def __init__(self) -> None:
        import http.server  # noqa: PLC0415
        import threading  # noqa: PLC0415

        received = self.received = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append((dict(self.headers), body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:  # quiet
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/mlflow-events"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def events(self) -> list[dict]:
        """The payloads received so far, parsed."""
        return [json.loads(body) for _, body in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def signature_ok(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """MLflow's webhook signature: base64 HMAC-SHA256 of ``<delivery id>.<timestamp>.<body>``."""
    import base64  # noqa: PLC0415
    import hashlib  # noqa: PLC0415
    import hmac  # noqa: PLC0415

    signed = f"{headers['X-MLflow-Delivery-Id']}.{headers['X-MLflow-Timestamp']}.".encode()
    digest = hmac.new(secret.encode(), signed + body, hashlib.sha256).digest()
    expected = "v1," + base64.b64encode(digest).decode()
    return hmac.compare_digest(expected, headers.get("X-MLflow-Signature", ""))
