"""Concurrent writers never fork the chain: 8 threads × 50 appends on PostgreSQL, each
with its own database connection, give one unbroken chain of consecutive numbers."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from planblanc.crisis.chain import logbook_verify
from planblanc.crisis.models import LogbookEntry
from planblanc.crisis.services import crisis_declare, logbook_append

WRITERS = 8
ENTRIES = 50


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks between connections need PostgreSQL")
def test_it_keeps_one_chain_with_parallel_writers(world, director, logbook_guards_allow_flush):
    crisis = crisis_declare(actor=director, establishment=world.chu, kind="ransomware", severity="major",
                            first_facts="Début")
    first = crisis.head_seq  # the declaration's own entries
    start = threading.Barrier(WRITERS)
    errors: list[BaseException] = []

    def write(number: int) -> None:
        try:
            start.wait()
            for index in range(ENTRIES):
                logbook_append(actor=world.crisis_member, crisis=crisis, kind="event", text=f"w{number}-{index}")
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    entries = list(LogbookEntry.objects.filter(crisis=crisis).order_by("seq"))
    assert len(entries) == first + WRITERS * ENTRIES
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    assert len({e.prev_hash for e in entries}) == len(entries)  # no two entries share a parent: no fork
    result = logbook_verify(crisis)
    assert result.ok and result.count == len(entries)
