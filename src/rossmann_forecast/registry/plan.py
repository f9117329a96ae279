"""Plans: what an operation on the registry will write, as plain values (no MLflow).

A ``Plan`` lists the moves of one operation (version, from-stage, to-stage, metrics at that
time) and the exact alias and tag writes that carry them out; the rules make plans, the
journal stores and carries them out. A ``JournalEntry`` is one plan as the journal recorded it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from rossmann_forecast.registry.stages import ALIASES
from rossmann_forecast.registry.state import RegistrySnapshot, Transition, validation_metrics


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Plan:
    """An operation: the moves it makes and the exact writes that carry them out."""

    operation: str
    user: str
    reason: str
    moves: list[dict[str, Any]] = field(default_factory=list)
    aliases: dict[str, int | None] = field(default_factory=dict)
    set_tags: dict[str, dict[str, str]] = field(default_factory=dict)
    delete_tags: dict[str, list[str]] = field(default_factory=dict)
    delete_versions: list[int] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(
            {
                "moves": self.moves,
                "aliases": self.aliases,
                "set_tags": self.set_tags,
                "delete_tags": self.delete_tags,
                "delete_versions": self.delete_versions,
            },
            sort_keys=True,
        )

    @classmethod
    def from_tags(cls, tags: dict[str, str]) -> Plan:
        chunks = int(tags.get("journal.plan_chunks", "0"))
        raw = json.loads("".join(tags.get(f"journal.plan.{i}", "") for i in range(chunks)) or "{}")
        return cls(
            operation=tags.get("journal.operation", ""),
            user=tags.get("journal.user", ""),
            reason=tags.get("journal.reason", ""),
            moves=raw.get("moves", []),
            aliases=raw.get("aliases", {}),
            set_tags=raw.get("set_tags", {}),
            delete_tags=raw.get("delete_tags", {}),
            delete_versions=raw.get("delete_versions", []),
        )

    def add_move(
        self,
        state: RegistrySnapshot,
        version: int,
        from_stage: str,
        to_stage: str,
        *,
        note: str = "",
        metrics: dict[str, float] | None = None,
    ) -> None:
        if metrics is None:
            metrics = validation_metrics(state.tags(version)) if version in state.versions else {}
        self.moves.append(
            {
                "version": version,
                "from": from_stage,
                "to": to_stage,
                "note": note,
                "metrics": metrics,
            }
        )

    def commit_alias(self) -> str | None:
        """The alias whose move commits the plan (``production`` first), or None: no alias."""
        return next((alias for alias in ALIASES if alias in self.aliases), None)

    def committed(self, aliases: dict[str, int]) -> bool:
        """Whether the plan's commit point has passed, given the aliases as MLflow has them."""
        alias = self.commit_alias()
        if alias is None:
            return True
        target = self.aliases[alias]
        return aliases.get(alias) == (None if target is None else int(target))

    def tag(self, version: int, tags: dict[str, str]) -> None:
        self.set_tags.setdefault(str(version), {}).update(tags)

    def untag(self, version: int, *keys: str) -> None:
        self.delete_tags.setdefault(str(version), []).extend(keys)

    def applied_to(self, snapshot: RegistrySnapshot) -> RegistrySnapshot:
        """``snapshot`` as it is once this plan is carried out (what a journaled intent commits to)."""
        aliases = dict(snapshot.aliases)
        for alias, target in self.aliases.items():
            if target is None:
                aliases.pop(alias, None)
            else:
                aliases[alias] = int(target)
        versions = {}
        for number, record in snapshot.versions.items():
            if number in self.delete_versions:
                continue
            tags = {**record.tags, **self.set_tags.get(str(number), {})}
            for key in self.delete_tags.get(str(number), []):
                tags.pop(key, None)
            versions[number] = replace(record, tags=tags)
        return replace(snapshot, versions=versions, aliases=aliases)


@dataclass(frozen=True)
class JournalEntry:
    """One journaled operation."""

    seq: int
    state: str
    at: str
    plan: Plan
    run_id: str
    summary: str
    pid: str

    def transitions(self) -> list[Transition]:
        return [
            Transition(
                seq=self.seq,
                operation=self.plan.operation,
                version=int(move["version"]),
                from_stage=move["from"],
                to_stage=move["to"],
                user=self.plan.user,
                at=self.at,
                reason=self.plan.reason,
                metrics=dict(move.get("metrics", {})),
                note=move.get("note", ""),
                state=self.state,
                run_id=self.run_id,
            )
            for move in self.plan.moves
        ]


def next_seq(entries: list[JournalEntry]) -> int:
    """The sequence number of the next operation after ``entries`` (in sequence order)."""
    return entries[-1].seq + 1 if entries else 1
