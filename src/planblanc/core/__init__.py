"""Shared helpers (the floor: forms, PDF rendering, database guards, the tenant admin) and the site pieces that sit on top of every app (home dashboard, demo data, worker command).

The public surface: the modules named in `__all__`. Other apps import only these
(tests/core/test_architecture.py checks it); everything else is this app's own."""

__all__ = [
    "admin", "db_guards", "forms", "pdf", "urls", "tabular", "staging", "localtime", "heartbeat", "views_drills",
    "anonymity", "bulk", "selectors",
]
