"""Who acts: a person through their login (`User`), or a named process of the platform
(`SystemActor`). Every service that writes takes an `Actor`; passing nothing is a type
error. The audit log records a user by their username and a process by its label
(`system:<name>`, with the name given to `--by` for a command).

Someone without a login, identified otherwise (a recipient through the signed link of
their alert, their phone number or chat account; a member of the crisis cell through
their chat account; the public answering an exercise questionnaire), is an
`OutsideParty`: the audit log and the logbook name them, but they hold no right, so
services that check rights take an `Actor` and never an `OutsideParty`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

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


@dataclass(frozen=True)
class OutsideParty:
    """Someone acting without a login, identified by the channel that brought them: a
    signed link, a phone number, a chat account. Recorded as "<kind>:<name>"."""

    kind: str
    name: str

    # Duck-typing with Django's users: never a logged-in person.
    is_authenticated = False
    is_active = False
    pk = None

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.name}"

    def __str__(self) -> str:
        return self.label


Actor: TypeAlias = "User | SystemActor"
# Who may appear in the audit log and the logbook: an actor, or an outside party.
AuditActor: TypeAlias = "User | SystemActor | OutsideParty"

ESCALATION_WORKER = SystemActor("escalation", sends_alerts=True)
CRISIS_PROCESS = SystemActor("crisis", sends_alerts=True)
EXERCISE_RUNNER = SystemActor("exercise", sends_alerts=True)
# Mutual aid alerts the responders of a help request the establishment's crisis cell sent.
MUTUAL_AID = SystemActor("mutual_aid", sends_alerts=True)
SYSTEM = SystemActor("platform")
# The public answering an exercise's questionnaire through its shared link.
PUBLIC_QUESTIONNAIRE = OutsideParty("public", "questionnaire")


def recipient(name: str) -> OutsideParty:
    """A recipient of an alert, acting through their signed link, phone or chat account."""
    return OutsideParty("recipient", name)


def cell_member(person_id: int) -> OutsideParty:
    """A person of a crisis cell, identified by their chat account (no login)."""
    return OutsideParty("person", str(person_id))


def learner(person_id: int) -> OutsideParty:
    """A person following an awareness campaign through their personal link (no login)."""
    return OutsideParty("learner", str(person_id))


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


def is_system(actor: object) -> bool:
    return isinstance(actor, SystemActor)


def is_command(actor: object) -> bool:
    """A management command, run by whoever controls the server."""
    return isinstance(actor, SystemActor) and actor.name.startswith("commande ")


def actor_label(actor: AuditActor) -> str:
    """The audit label of an actor: the username, or the process or outside party label."""
    if isinstance(actor, SystemActor | OutsideParty):
        return actor.label
    return actor.get_username()


__all__ = [
    "CRISIS_PROCESS", "ESCALATION_WORKER", "EXERCISE_RUNNER", "PUBLIC_QUESTIONNAIRE", "SYSTEM", "Actor", "AuditActor",
    "OutsideParty", "SystemActor", "actor_label", "alert_worker", "cell_member", "command", "is_command", "is_system",
    "learner", "recipient", "regional_exercise_runner",
]
