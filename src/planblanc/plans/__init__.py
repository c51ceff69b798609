"""The white plan (plan blanc numérique): its parts, versions, gaps, template data and paper kit.

The public surface: the modules named in `__all__`. Other apps import only these
(tests/core/test_architecture.py checks it); everything else is this app's own."""

__all__ = ["models", "services", "selectors", "forms", "template_data", "urls"]
