"""The crisis console: declaration, the hash-chained logbook (main courante), tasks, status board, damage assessment, regulatory notifications, indicators of compromise, communication and lessons learned.

The public surface: the modules named in `__all__`. Other apps import only these
(tests/core/test_architecture.py checks it); everything else is this app's own."""

__all__ = ["models", "services", "selectors", "chain", "iocs", "notifications", "report", "urls", "forms", "db_guards", "tasks", "views_situation"]
