from django import template

from planblanc.directory.validators import phone_display

register = template.Library()


@register.filter
def phone(value: str) -> str:
    """+33612345678 → 06 12 34 56 78 (readable on a phone, and on paper)."""
    try:
        return phone_display(value)
    except Exception:  # a stored value is always E.164; never break a page over display
        return value
