"""Who acts: a person through their login (`User`), or a named process of the platform
(`SystemActor`). Every service that writes takes an `Actor`; passing nothing is a type
error. The audit log records a user by their username and a process by its label
(`system:<name>`, with the name given to `--by` for a command)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from planblanc.accounts.models import User


@dataclass(frozen=True)
class SystemActor:
    """A process acting on its own: the alert worker, the exercise runner, a command.

    `sends_alerts` is the process's "send alerts" right: only the processes that the
    platform itself runs on behalf of a decision already taken (an escalation policy,
    a declared crisis, an exercise being played) hold it."""

    name: str
    by: str = ""
    sends_alerts: bool = False
    # Prepares and runs the exercises of a regional exercise, for the officer whose
    # regional right was checked before (`by`): see `regional_exercise_runner`.
    runs_exercises: bool = False
    # Commands are recorded as "commande <name> (<by>)", processes as "system:<name>".
    prefix: str = "system:"

    # Duck-typing with Django's users: a process is never a logged-in person.
    is_authenticated = False
    is_active = False
    pk = None

    @property
    def label(self) -> str:
        base = f"{self.prefix}{self.name}"
        return f"{base} ({self.by})" if self.by else base

    def __str__(self) -> str:
        return self.label


Actor: TypeAlias = "User | SystemActor"

ESCALATION_WORKER = SystemActor("escalation", sends_alerts=True)
CRISIS_PROCESS = SystemActor("crisis", sends_alerts=True)
EXERCISE_RUNNER = SystemActor("exercise", sends_alerts=True)
# Mutual aid alerts the responders of a help request the establishment's crisis cell sent.
MUTUAL_AID = SystemActor("mutual_aid", sends_alerts=True)
SYSTEM = SystemActor("platform")


def alert_worker(worker_id: str) -> SystemActor:
    """The alert worker that sends a follow-up (named by its worker id)."""
    return SystemActor(worker_id[:93], sends_alerts=True)


def regional_exercise_runner(by: str) -> SystemActor:
    """The process that prepares and plays the establishments' exercises of a regional
    exercise, on behalf of the regional officer or group CISO named by `by`, once their
    right over every establishment has been checked (exercises/regional.py)."""
    return SystemActor("exercice-regional", by=by.strip()[:100], sends_alerts=True, runs_exercises=True)


def command(name: str, *, by: str = "") -> SystemActor:
    """A management command, with the name of the person who ran it (`--by`)."""
    return SystemActor(f"commande {name}", by=by.strip()[:100], prefix="")


def is_system(actor: Any) -> bool:
    return isinstance(actor, SystemActor)


def is_command(actor: Any) -> bool:
    """A management command, run by whoever controls the server."""
    return isinstance(actor, SystemActor) and actor.name.startswith("commande ")


def actor_label(actor: Actor) -> str:
    """The audit label of an actor: the username, or the process label."""
    if isinstance(actor, SystemActor):
        return actor.label
    return actor.get_username()


__all__ = [
    "CRISIS_PROCESS", "ESCALATION_WORKER", "EXERCISE_RUNNER", "SYSTEM", "Actor", "SystemActor", "actor_label",
    "alert_worker", "command", "is_command", "is_system", "regional_exercise_runner",
]
