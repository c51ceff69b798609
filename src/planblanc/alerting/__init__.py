"""Alerting: campaigns, escalations, on-call rotations, follow-ups, deliveries over the channels, acknowledgements, CAP 1.2.

The public surface: the modules named in `__all__`. Other apps import only these
(tests/core/test_architecture.py checks it); everything else is this app's own."""

__all__ = ["models", "services", "selectors", "cap", "urls", "tasks", "oncall", "answers", "channels", "followup"]
