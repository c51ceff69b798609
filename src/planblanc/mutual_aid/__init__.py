"""Mutual aid between establishments: help requests and offers, the regional crisis
cell, situation reports, the catalogue of resources, EDXL exchange.

The public surface: the modules named in `__all__`. Other apps import only these
(tests/core/test_architecture.py checks it); everything else is this app's own."""

__all__ = ["models", "services", "selectors", "edxl", "views", "urls"]
