"""RFC 3161 timestamping of the logbook head: nothing without PLANBLANC_TSA_URL; with
one, the request goes to that address (a loopback server here: tests never reach the
network) and a failure is recorded without breaking anything."""

from __future__ import annotations

import hashlib

import pytest

from planblanc.crisis.models import LogbookTimestamp
from planblanc.crisis.services import logbook_timestamp_head
from tests.support.tsa import LocalTimestampAuthority

pytestmark = pytest.mark.django_db


def test_it_does_nothing_without_an_authority(crisis, settings):
    settings.PLANBLANC_TSA_URL = ""
    assert logbook_timestamp_head(crisis=crisis) is None
    assert not LogbookTimestamp.objects.exists()


def test_it_sends_a_timestamp_query_and_records_a_refusal(crisis, settings):
    with LocalTimestampAuthority() as authority:
        settings.PLANBLANC_TSA_URL = authority.url
        stamp = logbook_timestamp_head(crisis=crisis, timeout=5)
    seen = authority.queries
    assert seen and seen[0][0] == "application/timestamp-query"
    # The query's message imprint is the SHA-512 of the head hash (the builder's default).
    assert hashlib.sha512(bytes.fromhex(crisis.head_hash)).digest() in seen[0][1]
    assert stamp is not None and stamp.error and stamp.token is None
    assert stamp.seq == crisis.head_seq and stamp.entry_hash == crisis.head_hash


def test_it_refuses_an_address_that_is_not_http(crisis, settings):
    settings.PLANBLANC_TSA_URL = "file:///etc/passwd"
    stamp = logbook_timestamp_head(crisis=crisis)
    assert stamp is not None and "http" in stamp.error
