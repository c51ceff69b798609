"""Logins, two-factor authentication, role assignments, API tokens and the audit log.

The public surface: the modules named in `__all__`. Other apps import only these
(tests/core/test_architecture.py checks it); everything else is this app's own."""

__all__ = ["models", "services", "audit", "urls", "db_guards"]
