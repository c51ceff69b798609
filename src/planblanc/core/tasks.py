"""Thin task entry points of the platform itself."""

from __future__ import annotations

from django_tasks import task


@task()
def ping(token: str) -> str:
    """Round-trip used by `planblanc check` to prove a worker runs queued work."""
    return token
