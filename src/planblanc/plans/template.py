"""The French template a new plan starts from, stored as data files in plans/data/template/."""

from __future__ import annotations

from planblanc.plans.models import Plan


def template_apply(*, plan: Plan) -> None:
    """Fill an empty plan from the template files (filled in by the template module)."""
