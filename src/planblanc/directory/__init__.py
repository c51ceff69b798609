"""The directory: regions, groups (GHT), establishments, departments, people and their functions.

The public surface: the modules named in `__all__`. Other apps import only these
(tests/core/test_architecture.py checks it); everything else is this app's own."""

__all__ = ["models", "services", "selectors", "fields", "validators", "urls", "importing"]
