"""Logging in: Argon2 passwords, two-factor enrolment forced on administrators, real TOTP
codes, throttling after five failures, personal API tokens, hardened cookies, CSP and
security headers."""

from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
import sys
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from planblanc import settings as production_settings
from planblanc.accounts.models import ApiToken, AuditEntry, User
from planblanc.accounts.services import api_token_create, api_token_revoke
from tests.conftest import PASSWORD, verified_client

ADMINISTRATORS = ["national_admin", "regional_officer", "group_ciso", "establishment_admin", "outsider_admin"]
NOT_ADMINISTRATORS = ["crisis_member", "exercise_animator", "auditor"]


def login(username: str, password: str = PASSWORD, client: Client | None = None) -> tuple[Client, Any]:
    client = client or Client()
    response = client.post(reverse("accounts:login"), {"username": username, "password": password})
    return client, response


def code_for(device: TOTPDevice) -> str:
    """The code an authenticator app shows now, from the device's secret (RFC 6238, as
    computed by django-otp's oath module, not by our code)."""
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):0{device.digits}d}"


# Passwords ---------------------------------------------------------------------------------


def test_it_hashes_and_checks_passwords_with_argon2_in_production(world, settings):
    settings.PASSWORD_HASHERS = production_settings.PASSWORD_HASHERS
    user = User.objects.create_user(username="argon", password="un mot de passe assez long")
    assert user.password.startswith("argon2$argon2id$")
    client, response = login("argon", "un mot de passe assez long")
    assert response.status_code == 302
    assert client.get(reverse("core:home")).status_code == 200


def test_it_upgrades_an_older_hash_to_argon2_at_login(world, settings):
    settings.PASSWORD_HASHERS = production_settings.PASSWORD_HASHERS
    user = User.objects.create_user(username="ancien", password="x")
    from django.contrib.auth.hashers import make_password

    User.objects.filter(pk=user.pk).update(password=make_password("un mot de passe assez long", hasher="pbkdf2_sha256"))
    _client, response = login("ancien", "un mot de passe assez long")
    assert response.status_code == 302
    assert User.objects.get(pk=user.pk).password.startswith("argon2$")


def test_it_refuses_a_wrong_password_with_a_message(world):
    client, response = login("crisis_member", "not the password")
    assert response.status_code == 200
    assert response.context["form"].errors
    assert "_auth_user_id" not in client.session


# Two-factor --------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ADMINISTRATORS)
def test_it_sends_an_administrator_without_totp_to_enrol_before_any_page(world, persona):
    client, response = login(persona)
    assert response.status_code == 302
    for path in ("/", "/annuaire/etablissements/", "/annuaire/personnes/", "/compte/journal-audit/",
                 "/compte/acces/", "/compte/jetons-api/", "/admin/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith(reverse("accounts:two_factor")), path
    page = client.get(reverse("accounts:two_factor"))
    assert page.status_code == 200
    assert page.context["enrolling"]
    assert "<svg" in page.content.decode()  # the QR code to scan
    # The session does not open the API either.
    assert client.get("/api/v1/directory/me").status_code == 401


@pytest.mark.parametrize("persona", NOT_ADMINISTRATORS)
def test_it_lets_other_roles_in_without_totp(world, persona):
    client, _response = login(persona)
    assert client.get("/annuaire/personnes/").status_code == 200
    assert client.get("/api/v1/directory/me").status_code == 200


def test_it_enrols_an_authenticator_with_a_real_code(world):
    client, _response = login("establishment_admin")
    client.get(reverse("accounts:two_factor"))
    device = TOTPDevice.objects.get(user=world.establishment_admin, confirmed=False)

    wrong = "000000" if code_for(device) != "000000" else "111111"
    response = client.post(reverse("accounts:two_factor"), {"code": wrong})
    assert response.status_code == 200
    assert response.context["form"].errors["code"]
    assert client.get("/annuaire/personnes/").status_code == 302
    # Right after a wrong code, even the right one waits (brute force of 6 digits).
    assert client.post(reverse("accounts:two_factor"), {"code": code_for(device)}).status_code == 200
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_timestamp=timezone.now() - datetime.timedelta(minutes=1)
    )

    response = client.post(reverse("accounts:two_factor") + "?next=/annuaire/personnes/", {"code": code_for(device)})
    assert response.status_code == 302
    assert response["Location"] == "/annuaire/personnes/"
    device.refresh_from_db()
    assert device.confirmed
    assert AuditEntry.objects.filter(action="two_factor.enrol", actor=world.establishment_admin).exists()
    assert client.get("/annuaire/personnes/").status_code == 200
    assert client.get("/api/v1/directory/me").status_code == 200


def test_it_verifies_an_enrolled_administrator_and_refuses_a_replayed_code(world):
    device = TOTPDevice.objects.create(user=world.regional_officer, name="phone", confirmed=True)
    client, _response = login("regional_officer")
    page = client.get(reverse("accounts:two_factor"))
    assert not page.context["enrolling"]
    code = code_for(device)
    response = client.post(reverse("accounts:two_factor"), {"code": f" {code[:3]} {code[3:]} "})
    assert response.status_code == 302
    assert client.get("/").status_code == 200

    # The same code cannot open a second session (someone reading over a shoulder).
    other, _response = login("regional_officer")
    response = other.post(reverse("accounts:two_factor"), {"code": code})
    assert response.status_code == 200
    assert other.get("/").status_code == 302


def test_it_does_not_redirect_to_another_site_after_two_factor(world):
    device = TOTPDevice.objects.create(user=world.group_ciso, name="phone", confirmed=True)
    client, _response = login("group_ciso")
    response = client.post(reverse("accounts:two_factor") + "?next=https://evil.example/", {"code": code_for(device)})
    assert response.status_code == 302
    assert response["Location"] == "/"


# Throttling --------------------------------------------------------------------------------


def test_it_locks_a_login_after_five_failures_and_says_so(world):
    client = Client()
    client.cookies["planblanc_language"] = "en"
    for _attempt in range(4):
        _client, response = login("establishment_admin", "wrong password", client)
        assert response.status_code == 200
    # The fifth failure locks the login for this address, with an explanation.
    _client, response = login("establishment_admin", "wrong password", client)
    assert response.status_code == 429
    assert "Too many failed attempts" in response.content.decode()
    assert "locked for a few minutes" in response.content.decode()
    # Locked: even the right password is refused now.
    _client, response = login("establishment_admin", PASSWORD, client)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    # Another login from the same address is not affected.
    _client, response = login("crisis_member", PASSWORD, Client())
    assert response.status_code == 302


def test_it_does_not_lock_after_four_failures(world):
    client = Client()
    for _attempt in range(4):
        login("auditor", "wrong password", client)
    _client, response = login("auditor", PASSWORD, client)
    assert response.status_code == 302


# API tokens --------------------------------------------------------------------------------


def _me(key: str) -> Any:
    return Client().get("/api/v1/directory/me", HTTP_AUTHORIZATION=f"Bearer {key}")


def test_it_authenticates_the_api_with_a_personal_token(world):
    token, key = api_token_create(actor=world.auditor, name="script")
    assert key.startswith("pbn_")
    assert ApiToken.hash_key(key) == token.key_hash and key not in (token.key_hash, token.key_hint)
    response = _me(key)
    assert response.status_code == 200
    assert response.json() == {"username": "auditor", "roles": ["auditor"]}
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_it_answers_401_to_a_revoked_unknown_or_expired_token(world):
    token, key = api_token_create(actor=world.auditor, name="script")
    api_token_revoke(actor=world.auditor, token=token)
    assert _me(key).status_code == 401
    assert _me("pbn_" + "x" * 43).status_code == 401
    assert _me("not-even-a-token").status_code == 401
    assert Client().get("/api/v1/directory/me").status_code == 401

    expired, expired_key = api_token_create(actor=world.auditor, name="old", valid_days=1)
    ApiToken.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    assert _me(expired_key).status_code == 401

    _token, key = api_token_create(actor=world.crisis_member, name="gone")
    User.objects.filter(pk=world.crisis_member.pk).update(is_active=False)
    assert _me(key).status_code == 401


def test_a_token_gives_its_owner_scope_and_no_more(world):
    _token, key = api_token_create(actor=world.outsider_admin, name="script")
    response = Client().get(f"/api/v1/directory/establishments/{world.chu.pk}", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 404


def test_a_user_cannot_revoke_someone_elses_token(world):
    token, key = api_token_create(actor=world.auditor, name="script")
    response = verified_client(world.outsider_admin).post(reverse("accounts:api_token_revoke", args=[token.pk]))
    assert response.status_code == 404
    assert _me(key).status_code == 200


def test_the_token_page_shows_the_key_once(world):
    client = verified_client(world.crisis_member)
    response = client.post(reverse("accounts:api_tokens"), {"name": "tableur", "valid_days": 90})
    key = response.context["new_key"]
    assert key and key in response.content.decode()
    assert key not in client.get(reverse("accounts:api_tokens")).content.decode()
    assert _me(key).status_code == 200


# Cookies and headers ------------------------------------------------------------------------


def test_the_session_and_csrf_cookies_are_hardened(world):
    client = Client()
    page = client.get(reverse("accounts:login"))
    csrf = page.cookies["planblanc_csrftoken"]
    assert csrf["httponly"] and csrf["samesite"] == "Lax"
    _client, response = login("crisis_member", client=client)
    session = response.cookies["planblanc_session"]
    assert session["httponly"]
    assert session["samesite"] == "Lax"
    assert int(session["max-age"]) == 12 * 3600
    assert not session["secure"]  # plain HTTP unless PLANBLANC_HTTPS is set


def test_the_cookies_are_secure_when_https_is_configured(world, settings):
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    client = Client()
    assert client.get(reverse("accounts:login"), secure=True).cookies["planblanc_csrftoken"]["secure"]
    response = client.post(reverse("accounts:login"), {"username": "crisis_member", "password": PASSWORD}, secure=True)
    assert response.cookies["planblanc_session"]["secure"]


def test_the_https_setting_turns_on_secure_cookies_hsts_and_redirect(tmp_path):
    script = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS, "
        "s.SECURE_SSL_REDIRECT, s.SECURE_PROXY_SSL_HEADER]))"
    )
    results = {}
    for https in ("1", "0"):
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "planblanc.settings", "PLANBLANC_DATA_DIR": str(tmp_path),
               "PLANBLANC_HTTPS": https, "PLANBLANC_SECRET_KEY": "test-only-key"}
        env.pop("DATABASE_URL", None)
        out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
        results[https] = json.loads(out.stdout.strip().splitlines()[-1])
    assert results["1"] == [True, True, 31536000, True, ["HTTP_X_FORWARDED_PROTO", "https"]]
    assert results["0"] == [False, False, 0, False, None]


PAGES = ["/", "/annuaire/etablissements/", "/annuaire/personnes/", "/compte/journal-audit/", "/compte/jetons-api/"]


@pytest.mark.parametrize("path", PAGES)
def test_pages_carry_a_strict_csp_and_security_headers(client_for, path):
    response = client_for("establishment_admin").get(path)
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";") if part.strip())
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


@pytest.mark.parametrize("path", [*PAGES, "/compte/connexion/", "/compte/double-authentification/"])
def test_pages_have_no_inline_script_or_style_the_csp_would_block(world, path):
    if path == "/compte/connexion/":
        client = Client()
    elif path == "/compte/double-authentification/":
        client, _response = login("establishment_admin")  # the enrolment page, with its QR code
    else:
        client = verified_client(world.establishment_admin)
    body = client.get(path).content.decode()
    assert "Content-Security-Policy" in client.get(path).headers
    for tag in re.findall(r"<script\b[^>]*>", body):
        assert "src=" in tag, tag
    assert not re.search(r"\son[a-z]+\s*=", body), "inline event handler"
    assert not re.search(r"<[a-z][^>]*\sstyle\s*=", body), "inline style attribute"
    assert "<style" not in body


def test_the_login_page_itself_has_the_headers(world):
    response = Client().get(reverse("accounts:login"))
    assert response.status_code == 200
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
