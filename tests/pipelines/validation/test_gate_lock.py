"""The gate's stage move takes the registry lock with conf's timeouts (params:registry)."""

from __future__ import annotations

import time

MODEL = "rossmann-ensemble"


def _state(client) -> dict[str, tuple]:
    return {
        v.version: (
            sorted(v.aliases),
            v.tags.get("validation.status"),
            v.tags.get("lifecycle.stage"),
        )
        for v in client.search_model_versions(f"name='{MODEL}'")
    }


def test_the_gate_waits_for_the_lock_as_long_as_conf_says(lifecycle):
    client = lifecycle.client
    before = _state(client)
    client.create_registered_model(
        f"{MODEL}.lock",
        tags={
            "lock.token": "held-by-test",
            "lock.owner": "dave",
            "lock.operation": "promote",
            "lock.host": "another-host",
            "lock.pid": "123",
            "lock.acquired_at": "2026-01-01T00:00:00+00:00",
            "lock.expires_at": repr(time.time() + 600),
        },
    )
    try:
        result = lifecycle.project.run(
            "--pipelines", "validation",
            "--params", f"validation.version={lifecycle.staging},registry.lock_wait_seconds=2",
        )  # fmt: skip
    finally:
        client.delete_registered_model(f"{MODEL}.lock")

    assert result.returncode != 0
    assert "is locked by dave (promote, pid 123 on another-host" in result.output
    assert "waited 2 s" in result.output  # conf's lock_wait_seconds, not a hard-coded 60
    assert _state(client) == before  # nothing moved, nothing marked
