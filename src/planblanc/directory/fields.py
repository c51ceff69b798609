"""Model fields that normalise what people type (spaces in FINESS, phone formats)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db import models

from planblanc.directory.validators import finess_normalize, finess_validate, phone_normalize


def validate_finess(value: str) -> None:
    finess_validate(value)


class FinessFormField(forms.CharField):
    def to_python(self, value: Any) -> str:
        return finess_normalize(super().to_python(value))

    def validate(self, value: Any) -> None:
        super().validate(value)
        if value:
            finess_validate(value)


class FinessField(models.CharField):
    default_validators = [validate_finess]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 9)
        super().__init__(*args, **kwargs)

    def clean(self, value: Any, model_instance: Any) -> Any:
        # Normalise when validating (forms, services, imports), not on every query.
        if isinstance(value, str):
            value = finess_normalize(value)
        return super().clean(value, model_instance)

    def formfield(self, **kwargs: Any) -> Any:
        # The form accepts "75 000 003 5"; the length rule is checked after spaces go.
        kwargs.setdefault("form_class", FinessFormField)
        field = super().formfield(**kwargs)
        field.max_length = None
        field.validators = []
        field.widget.attrs.pop("maxlength", None)
        field.widget.attrs.setdefault("inputmode", "numeric")
        field.widget.attrs.setdefault("autocomplete", "off")
        return field


class PhoneFormField(forms.CharField):
    def to_python(self, value: Any) -> str:
        return phone_normalize(super().to_python(value))


class PhoneField(models.CharField):
    """Stored in E.164 (+33612345678); any usual French or international writing accepted."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 20)
        super().__init__(*args, **kwargs)

    def clean(self, value: Any, model_instance: Any) -> Any:
        if isinstance(value, str) and value:
            value = phone_normalize(value)
        return super().clean(value, model_instance)

    def formfield(self, **kwargs: Any) -> Any:
        kwargs.setdefault("form_class", PhoneFormField)
        field = super().formfield(**kwargs)
        field.max_length = None
        field.validators = []
        field.widget.attrs.pop("maxlength", None)
        field.widget.input_type = "tel"
        field.widget.attrs.setdefault("autocomplete", "tel")
        return field
