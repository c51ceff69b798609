"""Indicators of compromise: value checked against its type, TLP level, STIX 2.1 bundle
that passes the OASIS validator, MISP event that passes pymisp's schema, TLP marking on
both, exports logged; pages and API behind tenancy."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import jsonschema
import pymisp
import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from stix2validator import ValidationOptions, validate_string

from planblanc.accounts.models import AuditEntry
from planblanc.crisis.iocs import (
    TLP_MARKINGS,
    indicator_create,
    indicators_export,
    misp_event,
    stix_bundle,
)
from planblanc.crisis.models import Indicator, LogbookEntry
from tests.conftest import verified_client

pytestmark = pytest.mark.django_db

SAMPLES = [
    ("ipv4", "203.0.113.7", "amber+strict"),
    ("ipv6", "2001:DB8::1", "clear"),
    ("domain", "Rancon.Example.", "green"),
    ("url", "https://rancon.example/pay?id='42'", "red"),
    ("file_hash", "D41D8CD98F00B204E9800998ECF8427E", "amber"),
    ("file_hash", "da39a3ee5e6b4b0d3255bfef95601890afd80709", "amber"),
    ("file_hash", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "green"),
    ("email", "Pirate@Rancon.Example", "amber"),
]


@pytest.fixture
def indicators(crisis, director):
    return [indicator_create(actor=director, crisis=crisis, kind=k, value=v, tlp=t, description="Vu sur le pare-feu")
            for k, v, t in SAMPLES]


def test_it_normalises_values_and_detects_the_hash_algorithm(indicators):
    values = {(i.kind, i.value, i.hash_algorithm) for i in indicators}
    assert ("ipv6", "2001:db8::1", "") in values
    assert ("domain", "rancon.example", "") in values
    assert ("file_hash", "d41d8cd98f00b204e9800998ecf8427e", "md5") in values
    assert ("file_hash", "da39a3ee5e6b4b0d3255bfef95601890afd80709", "sha1") in values
    assert any(i.hash_algorithm == "sha256" for i in indicators)
    assert ("email", "Pirate@rancon.example", "") in values


@pytest.mark.parametrize(("kind", "value", "message"), [
    ("ipv4", "2001:db8::1", "is not an IPv4 address"),
    ("ipv4", "300.1.1.1", "is not an IPv4 address"),
    ("ipv6", "203.0.113.7", "is not an IPv6 address"),
    ("domain", "https://rancon.example/", "is not a domain name"),
    ("url", "rancon.example", "is not a URL"),
    ("file_hash", "abc123", "is not a file hash"),
    ("file_hash", "z" * 32, "is not a file hash"),
    ("email", "pirate-at-rancon.example", "is not an email address"),
])
def test_it_refuses_a_value_that_does_not_match_its_type(crisis, director, kind, value, message):
    with pytest.raises(ValidationError) as error:
        indicator_create(actor=director, crisis=crisis, kind=kind, value=value, tlp="amber")
    assert message in " ".join(error.value.message_dict["value"])
    assert not Indicator.objects.exists()


def test_it_refuses_an_unknown_tlp_level_and_a_duplicate(crisis, director, indicators):
    with pytest.raises(ValidationError, match="TLP level"):
        indicator_create(actor=director, crisis=crisis, kind="ipv4", value="198.51.100.1", tlp="white")
    with pytest.raises(ValidationError, match="already recorded"):
        indicator_create(actor=director, crisis=crisis, kind="ipv4", value="203.0.113.7", tlp="red")


def test_the_stix_bundle_passes_the_oasis_validator(crisis, indicators):
    text = stix_bundle(crisis=crisis)
    results = validate_string(text, ValidationOptions(version="2.1"))
    assert results.is_valid, [str(e) for e in results.errors]
    assert not results.errors
    bundle = json.loads(text)
    by_type: dict[str, list] = {}
    for obj in bundle["objects"]:
        by_type.setdefault(obj["type"], []).append(obj)
    assert len(by_type["indicator"]) == len(SAMPLES)
    patterns = {o["pattern"] for o in by_type["indicator"]}
    assert "[ipv4-addr:value = '203.0.113.7']" in patterns
    assert "[file:hashes.'SHA-1' = 'da39a3ee5e6b4b0d3255bfef95601890afd80709']" in patterns
    assert "[url:value = 'https://rancon.example/pay?id=\\'42\\'']" in patterns
    # Each indicator carries its TLP marking, and the marking definitions are in the bundle.
    strict = next(o for o in by_type["indicator"] if "203.0.113.7" in o["pattern"])
    assert strict["object_marking_refs"] == [TLP_MARKINGS["amber+strict"]]
    names = {m["name"] for m in by_type["marking-definition"]}
    assert names == {"TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED"}

    assert by_type["report"][0]["object_marking_refs"] == [TLP_MARKINGS["red"]]
    assert by_type["identity"][0]["name"] == "CHU A"


def test_the_stix_bundle_passes_the_validator_in_strict_mode_with_stable_uuidv4_ids(crisis, indicators):
    text = stix_bundle(crisis=crisis)
    results = validate_string(text, ValidationOptions(version="2.1", strict=True))
    assert results.is_valid, [str(e) for e in results.errors] + [str(w) for w in results.warnings]
    assert not results.errors and not results.warnings
    objects = json.loads(text)["objects"]
    ids = {o["type"]: o["id"] for o in objects if o["type"] in ("identity", "report")}
    for stix_id in ids.values():
        assert uuid.UUID(stix_id.split("--")[1]).version == 4
    # A re-export names the same identity and report: the ids are stored, not drawn anew.
    again = {o["type"]: o["id"] for o in json.loads(stix_bundle(crisis=crisis))["objects"]
             if o["type"] in ("identity", "report")}
    assert again == ids


def test_the_misp_event_passes_the_pymisp_schema(crisis, indicators):
    event = json.loads(misp_event(crisis=crisis))
    schema = json.loads((Path(pymisp.__file__).parent / "data" / "schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(event, schema)
    attributes = event["Event"]["Attribute"]
    assert {(a["type"], a["value"]) for a in attributes} >= {
        ("ip-dst", "203.0.113.7"), ("md5", "d41d8cd98f00b204e9800998ecf8427e"), ("email-src", "Pirate@rancon.example"),
        ("url", "https://rancon.example/pay?id='42'"), ("domain", "rancon.example")}
    assert next(a for a in attributes if a["value"] == "203.0.113.7")["Tag"] == [{"name": "tlp:amber+strict"}]
    assert event["Event"]["Tag"] == [{"name": "tlp:red"}]


def test_exports_are_logged(crisis, director, indicators):
    for fmt in ("stix", "misp"):
        content, _type, _name = indicators_export(actor=director, crisis=crisis, fmt=fmt)
        assert content
    assert LogbookEntry.objects.filter(crisis=crisis, text__contains="STIX 2.1").exists()
    assert LogbookEntry.objects.filter(crisis=crisis, text__contains="MISP").exists()
    assert AuditEntry.objects.filter(action="crisis.indicators_export.stix").count() == 1


def test_the_page_records_and_refuses_with_a_message(crisis, director):
    client = verified_client(director)
    client.cookies["planblanc_language"] = "en"
    url = reverse("crisis:indicator_list", args=[crisis.pk])
    refused = client.post(url, {"kind": "ipv4", "value": "rancon.example", "tlp": "amber"}, follow=True)
    assert "is not an IPv4 address" in refused.content.decode() and not Indicator.objects.exists()
    client.post(url, {"kind": "domain", "value": "rancon.example", "tlp": "green"})
    page = client.get(url).content.decode()
    assert "rancon.example" in page and "TLP:GREEN" in page and "table-responsive" in page
    stix = client.get(reverse("crisis:indicator_export", args=[crisis.pk, "stix"]))
    assert stix.status_code == 200 and validate_string(stix.content.decode(), ValidationOptions(version="2.1")).is_valid
    row = Indicator.objects.get()
    client.post(reverse("crisis:indicator_delete", args=[crisis.pk, row.pk]))
    assert not Indicator.objects.exists()
    assert LogbookEntry.objects.filter(crisis=crisis, text__contains="withdrawn").exists()


def test_the_api_crud_and_exports(crisis, client_for):
    client = client_for("crisis_member")
    base = f"/api/v1/crisis/{crisis.pk}/iocs"
    bad = client.post(base, {"kind": "file_hash", "value": "1234", "tlp": "amber"}, content_type="application/json")
    assert bad.status_code == 422 and "value" in bad.json()["errors"]
    created = client.post(base, {"kind": "ipv4", "value": "198.51.100.9", "tlp": "red"},
                          content_type="application/json")
    assert created.status_code == 201
    row_id = created.json()["id"]
    assert client.get(base).json()[0]["value"] == "198.51.100.9"
    changed = client.put(f"{base}/{row_id}", {"kind": "ipv4", "value": "198.51.100.10", "tlp": "amber"},
                         content_type="application/json")
    assert changed.status_code == 200 and changed.json()["value"] == "198.51.100.10"
    stix = client.get(f"{base}/export/stix")
    assert stix.status_code == 200 and validate_string(stix.content.decode(), ValidationOptions(version="2.1")).is_valid
    assert json.loads(client.get(f"{base}/export/misp").content)["Event"]["Attribute"][0]["value"] == "198.51.100.10"
    officer = client_for("regional_officer")
    assert officer.get(base).status_code == 200
    assert officer.delete(f"{base}/{row_id}").status_code == 403
    assert client.delete(f"{base}/{row_id}").status_code == 204
    assert not Indicator.objects.exists()


def test_outsiders_get_404_on_every_ioc_route(crisis, director, client_for):
    row = indicator_create(actor=director, crisis=crisis, kind="ipv4", value="203.0.113.7")
    client = client_for("outsider_admin")
    base = f"/api/v1/crisis/{crisis.pk}/iocs"
    for url in (reverse("crisis:indicator_list", args=[crisis.pk]),
                reverse("crisis:indicator_export", args=[crisis.pk, "stix"]),
                reverse("crisis:indicator_export", args=[crisis.pk, "misp"]),
                base, f"{base}/{row.pk}", f"{base}/export/stix", f"{base}/export/misp"):
        assert client.get(url).status_code == 404, url
    assert client.post(reverse("crisis:indicator_list", args=[crisis.pk]),
                       {"kind": "ipv4", "value": "1.2.3.4"}).status_code == 404
    assert client.post(reverse("crisis:indicator_delete", args=[crisis.pk, row.pk])).status_code == 404
    assert client.post(base, {"kind": "ipv4", "value": "1.2.3.4"}, content_type="application/json").status_code == 404
    assert client.put(f"{base}/{row.pk}", {"kind": "ipv4", "value": "1.2.3.5"},
                      content_type="application/json").status_code == 404
    assert client.delete(f"{base}/{row.pk}").status_code == 404
    assert Indicator.objects.get().value == "203.0.113.7"
