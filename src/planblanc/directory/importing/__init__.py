"""Import of establishments and people from CSV or XLSX (« import de l'annuaire »).

The pipeline, in order (one module each: `columns`, `reading`, `checks`, `batches`,
`writing`):

1. `read_table` turns the uploaded bytes into a header and rows, each with the line number
   a spreadsheet shows (the header is line 1). CSV in UTF-8 (with or without BOM) or
   Windows-1252, `;` `,` or tab detected from the header line; XLSX: the first sheet.
2. `match_columns` maps header cells to our columns, whatever the case, accents or
   language ("Prénom", "first name", "PRENOM" are the same column).
3. `directory_import_upload` validates every row against the directory as it stands and
   stores the batch (ImportBatch): nothing is written to the directory.
4. `directory_import_apply` validates the rows again (the directory may have changed
   since the preview) and writes them in one transaction with one audit entry — only
   when the file is clean, or when the user asked to import only the good rows
   (`writing`).

Rules of the import:
- Establishments are created or updated by FINESS number; people by email address (or,
  for people without one, by first name, last name and mobile phone within the
  importer's scope). An import adds and updates, it never deletes.
- A column that is absent leaves that field alone; a cell that is empty in a present
  column empties the field (the file is taken as the truth for what it carries).
- People files hold one line per function: a person with two functions appears on two
  lines with the same email and the same details. The same email with another name or
  other details is an error, and so is a repeated line.
- The importer only creates and updates inside their own scope (tenancy.py): MANAGE_PEOPLE
  over the establishment of each person line, MANAGE_ESTABLISHMENTS over each
  establishment (and over its region or group to create or move one).
"""

from planblanc.directory.importing.batches import (
    ImportChanged,
    directory_import_apply,
    directory_import_cancel,
    directory_import_upload,
    import_batch_for_user,
    import_batch_list,
)
from planblanc.directory.importing.checks import RowCheck, import_check
from planblanc.directory.importing.columns import (
    COLUMNS,
    ESTABLISHMENT_COLUMNS,
    KIND_PERM,
    MAX_BYTES,
    MAX_ROWS,
    PERSON_COLUMNS,
    Column,
)
from planblanc.directory.importing.reading import ColumnMatch, Table, match_columns, read_table

__all__ = [
    "COLUMNS", "ESTABLISHMENT_COLUMNS", "KIND_PERM", "MAX_BYTES", "MAX_ROWS", "PERSON_COLUMNS", "Column",
    "ColumnMatch", "ImportChanged", "RowCheck", "Table", "directory_import_apply", "directory_import_cancel",
    "directory_import_upload", "import_batch_for_user", "import_batch_list", "import_check", "match_columns",
    "read_table",
]
