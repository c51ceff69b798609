"""Input types shared by the API schemas."""

from __future__ import annotations

import datetime
from typing import Annotated, Any

from pydantic import BeforeValidator


def _no_number(value: Any) -> Any:
    # Pydantic reads a number as seconds since 1970: `0` would be a date. Dates are ISO 8601 text.
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("a date and time is written in ISO 8601, for example 2026-03-12T09:00:00+01:00")
    return value


InputDateTime = Annotated[datetime.datetime, BeforeValidator(_no_number)]
