"""The REST API (django-ninja): one router per app over its services and selectors.

The public surface: the modules named in `__all__`. Other apps import only these
(tests/core/test_architecture.py checks it); everything else is this app's own."""

__all__ = ["urls"]
