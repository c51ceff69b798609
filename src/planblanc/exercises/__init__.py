"""Crisis exercises: kits, scenarios and chronogramme import, the live run, evaluation and report.

The public surface: the modules named in `__all__`. Other apps import only these
(tests/core/test_architecture.py checks it); everything else is this app's own."""

__all__ = ["models", "services", "selectors", "kits", "run", "chronogramme", "urls", "regional"]
