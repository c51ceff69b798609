"""Chronogramme (timeline of injects) import and export.

Import reads the spreadsheets French exercise kits use. Real ones are messy: title rows
above the header, phase rows ("TANGO 1 …") between injects, numbers such as "-",
times such as "10h15", "13:30:00", "12H30 (08/08/2024)", "+00:45", "T+45" or real
date/time cells, several sheets. Reading never writes: it returns a `Chronogramme`
(injects read, and every row it could not read with its place "sheet!row"); the
service `chronogramme_import` saves it, all or nothing, or only the good rows when the
user asks for that.

The JSON format is documented in data/chronogramme-format.md (format_version 1).

Modules: `headers` (column mapping and cell readers), `times` (time cells), `parsed`
(what reading returns), `building` (rows to injects), `workbook` (XLSX reading),
`exchange` (exports and the JSON format). Other modules import from here.
"""

from planblanc.exercises.chronogramme.building import (
    ORDER_STEP,
    check_dependencies,
    find_cycle,
    is_marker,
    marker_kind,
    number_injects,
    parse_rows,
    reaction_to_text,
)
from planblanc.exercises.chronogramme.exchange import (
    FORMAT_VERSION,
    export_json,
    export_xlsx,
    read_json,
)
from planblanc.exercises.chronogramme.headers import (
    EXPORT_HEADERS,
    FIELDS,
    FUZZY_CUTOFF,
    cell_text,
    find_header,
    guess_field,
    guess_mapping,
    is_fuzzy_header,
    normalise,
    parse_channel,
    parse_dependencies,
    parse_kind,
    parse_number,
    parse_state,
)
from planblanc.exercises.chronogramme.parsed import (
    Chronogramme,
    ChronogrammeFileError,
    ParsedInject,
    ParsedMarker,
    ParsedReaction,
    RowProblem,
)
from planblanc.exercises.chronogramme.times import (
    ParsedTime,
    parse_duration,
    parse_time,
    parse_time_with_note,
)
from planblanc.exercises.chronogramme.workbook import (
    CHRONOGRAMME_LIMITS,
    pick_sheet,
    read_workbook,
    read_xlsx,
    sheet_rows,
)

__all__ = [
    "CHRONOGRAMME_LIMITS", "ORDER_STEP", "EXPORT_HEADERS", "FIELDS", "FORMAT_VERSION", "FUZZY_CUTOFF", "Chronogramme",
    "ChronogrammeFileError", "ParsedInject", "ParsedMarker", "ParsedReaction", "ParsedTime", "RowProblem", "cell_text",
    "check_dependencies", "export_json", "export_xlsx", "find_cycle", "find_header", "guess_field", "guess_mapping",
    "is_fuzzy_header", "is_marker", "marker_kind", "normalise", "number_injects", "parse_channel", "parse_dependencies",
    "parse_duration", "parse_kind", "parse_number", "parse_rows", "parse_state", "parse_time",
    "parse_time_with_note", "pick_sheet", "reaction_to_text", "read_json", "read_workbook", "read_xlsx",
    "sheet_rows",
]
