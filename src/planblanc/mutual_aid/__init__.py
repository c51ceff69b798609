"""Mutual aid between establishments, groups (GHT) and the region (ARS): the pooled-resource catalogue, help requests and offers (EDXL-RM), situation reports (EDXL-HAVE) and the regional crisis cell.

The public surface: the modules named in `__all__`. Other apps import only these
(tests/core/test_architecture.py checks it); everything else is this app's own."""

__all__ = ["models", "services", "selectors", "edxl", "tasks", "urls"]
