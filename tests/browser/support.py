"""What the browser journeys share: Chromium's flags, the phone profile, the watched page,
and the two ways in: the login form, or a session cookie of a verified client."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import translation

# Without the background-networking flags Chromium keeps calling home, and only
# loopback traffic is allowed on test machines.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# What a phone's browser says it is. Chromium headless says "HeadlessChrome", which the
# phishing drills take for a link scanner (awareness/data/link_scanners.txt).
PHONE_USER_AGENT = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
                    "Chrome/131.0.0.0 Mobile Safari/537.36")
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}

# Runs in every document before its own scripts: keeps the CSP violations that the
# console might word differently from one Chromium version to the next.
_CSP_LISTENER = """
window.__pbCspViolations = [];
window.addEventListener("securitypolicyviolation", (event) => {
  window.__pbCspViolations.push(
    `${event.violatedDirective} blocked ${event.blockedURI || "inline"} at ${event.sourceFile}:${event.lineNumber}`
  );
});
"""


def fr(msgid: str) -> str:
    """The French wording of a message, as the pages show it by default."""
    with translation.override("fr"):
        return translation.gettext(msgid)


def totp_code(secret: str) -> str:
    """The code an authenticator app shows for the secret printed on the enrolment page."""
    from django_otp.oath import totp

    key = secret.replace(" ", "").upper()
    key += "=" * (-len(key) % 8)
    return f"{totp(base64.b32decode(key)):06d}"


class Watched:
    """A page and everything that went wrong on it since the last check."""

    def __init__(self, page: Any, base_url: str) -> None:
        self.page = page
        self.base_url = base_url.rstrip("/")
        self.problems: list[str] = []
        origin = urlsplit(self.base_url).netloc
        page.add_init_script(_CSP_LISTENER)

        def on_console(message: Any) -> None:
            # The browser asks for /favicon.ico by itself; the app does not serve one.
            if message.type != "error" or message.location.get("url", "").endswith("/favicon.ico"):
                return
            # A console poll still in flight when the member opens another section comes
            # back after its list left the page: htmx reports the missing target and drops
            # the answer, which is what should happen.
            if message.text.startswith("htmx:oobErrorNoTarget"):
                return
            self.problems.append(f"console: {message.text} ({message.location.get('url')})")

        page.on("console", on_console)
        page.on("pageerror", lambda exc: self.problems.append(f"script error: {exc}"))

        def on_response(response: Any) -> None:
            url = urlsplit(response.url)
            if url.netloc == origin and response.status >= 400 and url.path != "/favicon.ico":
                self.problems.append(f"HTTP {response.status} for {url.path}")

        page.on("response", on_response)

    def goto(self, path: str) -> None:
        response = self.page.goto(self.base_url + path)
        assert response is not None and response.ok, f"{path}: HTTP {response and response.status}"
        self.settle()

    def settle(self) -> None:
        self.page.wait_for_load_state("networkidle")

    def assert_clean(self, where: str) -> None:
        violations = self.page.evaluate("window.__pbCspViolations || []")
        problems = self.problems + [f"CSP: {v}" for v in violations]
        self.problems = []
        assert not problems, f"on {where} ({self.page.url}):\n" + "\n".join(problems)

    def heading(self) -> Any:
        return self.page.locator("main h1")


LOGIN_PATH = "/compte/connexion/"


def log_in(watched: Watched, username: str, *, two_factor: bool = False) -> None:
    """Through the login form with the demo password; `two_factor`: the first login of an
    account that must enrol an authenticator (read the secret, type the code)."""
    from planblanc.core.demo import DEMO_PASSWORD

    page = watched.page
    watched.goto(LOGIN_PATH)
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.locator("main form button[type=submit]").click()
    watched.settle()
    if two_factor:
        secret = page.get_by_test_id("totp-secret").inner_text()
        page.fill("input[name=code]", totp_code(secret))
        page.locator("main form button[type=submit]").click()
        watched.settle()
    watched.assert_clean(f"the login of {username}")


def session_cookie(user: Any, base_url: str) -> dict[str, Any]:
    """The session cookie of `user`, logged in with the second factor passed: a page
    opened with it starts signed in."""
    from tests.conftest import verified_client

    client = verified_client(user)
    return {"name": settings.SESSION_COOKIE_NAME, "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
            "url": base_url}
