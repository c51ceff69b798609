"""Observatory (observatoire): regional and national readiness dashboards.

Reads only; every figure is computed in SQL as a grouped count over the establishments
the viewer may see (`Establishment.objects.visible_to(user)`), so a dashboard costs a
fixed number of queries whatever the number of establishments. Each chart is built from
one per-establishment expression (a bucket: "score 40–60", "exercised", …): the same
expression filters the establishments behind a bar for the drill-down, so a figure and
its list always agree.

Readers of the crisis and exercise apps are small functions that return None ("no data")
when the app or a field they read is missing. Exercise crises (Crisis.is_exercise) are
never counted as incidents; they count as an exercise.

Modules: `filters` (who sees what, the filters), `sources` (readers of other apps),
`buckets` (per-establishment expressions), `tables` (tables and bucket charts),
`indicators` (the other charts), `dashboard` (the page, its drill-down, the export).
"""

from planblanc.readiness.observatory.dashboard import (
    Dashboard,
    anonymised_value,
    observatory_dashboard,
    observatory_drilldown,
)
from planblanc.readiness.observatory.filters import (
    ANONYMITY_THRESHOLD,
    NONE,
    SUPPRESSED,
    UNKNOWN,
    Filters,
    observatory_establishments,
    observatory_is_national,
)
from planblanc.readiness.observatory.sources import model_or_none
from planblanc.readiness.observatory.tables import Cell, Row, Table

__all__ = [
    "ANONYMITY_THRESHOLD", "NONE", "SUPPRESSED", "UNKNOWN", "Cell", "Dashboard", "Filters", "Row", "Table",
    "anonymised_value", "model_or_none", "observatory_dashboard", "observatory_drilldown",
    "observatory_establishments", "observatory_is_national",
]
