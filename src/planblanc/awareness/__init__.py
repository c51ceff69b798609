"""Staff awareness: yearly training modules (lessons and quizzes, as data), the audiences that decide who takes which module.

The public surface: the modules named in `__all__`. Other apps import only these
(tests/core/test_architecture.py checks it); everything else is this app's own."""

__all__ = ["content", "audiences", "models", "services", "selectors", "drills", "views_drills", "urls", "tasks"]
