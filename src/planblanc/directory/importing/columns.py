"""The columns of import files (the same as the export's), their aliases, and the
limits of a file."""


from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from planblanc.core.tabular import norm
from planblanc.directory.models import (
    ImportKind,
)
from planblanc.tenancy import Perm

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
# Spreadsheets sometimes carry thousands of empty formatted columns; ours need a dozen.
MAX_COLUMNS = 60
# How far below the first line the header may be found (under a title line or two).
HEADER_SEARCH_LINES = 5
# Enough values per IN (…) to keep round trips few, few enough for SQLite's limit.
CHUNK = 900

STAGING_PURPOSE = "directory-import"

KIND_PERM: dict[Any, Perm] = {ImportKind.ESTABLISHMENTS: Perm.MANAGE_ESTABLISHMENTS, ImportKind.PEOPLE: Perm.MANAGE_PEOPLE}


# Columns ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One column of an import file. `header` is what the export writes (a file format,
    so it does not change with the interface language); `aliases` are the other names
    accepted on import, compared without case, accents or punctuation."""

    key: str
    header: str
    aliases: tuple[str, ...] = ()
    required: bool = False


ESTABLISHMENT_COLUMNS: tuple[Column, ...] = (
    Column("finess", "FINESS", ("n finess", "no finess", "numero finess", "finess number", "finess et",
                                "finess etablissement", "finess établissement"), required=True),
    Column("name", "Nom", ("name", "raison sociale", "etablissement", "establishment", "nom etablissement",
                           "denomination", "establishment name"), required=True),
    Column("category", "Catégorie", ("category", "type", "categorie etablissement"), required=True),
    Column("region", "Région", ("region", "ars", "code region", "region code"), required=True),
    Column("group", "GHT", ("group", "groupe", "hospital group", "code ght", "groupement hospitalier de territoire")),
    Column("is_priority", "Prioritaire", ("priority", "priorite", "priority establishment",
                                          "etablissement prioritaire")),
    Column("is_essential_operator", "OSE", ("essential operator", "essential services operator",
                                            "operateur de services essentiels")),
    Column("address", "Adresse", ("address", "adresse postale", "street")),
    Column("postal_code", "Code postal", ("postal code", "postcode", "zip", "zip code", "cp")),
    Column("city", "Ville", ("city", "commune", "town")),
    Column("switchboard_phone", "Standard", ("switchboard", "switchboard phone", "telephone standard",
                                             "telephone", "phone", "tel")),
)

PERSON_COLUMNS: tuple[Column, ...] = (
    Column("last_name", "Nom", ("last name", "nom de famille", "surname", "family name", "nom d usage"),
           required=True),
    Column("first_name", "Prénom", ("first name", "given name", "firstname", "prenoms"),
           required=True),
    Column("job_title", "Métier", ("job", "job title", "poste", "intitule de poste", "emploi")),
    Column("email", "Email", ("e mail", "courriel", "mail", "adresse electronique", "adresse mail",
                              "email address", "adresse e mail")),
    Column("mobile_phone", "Mobile", ("mobile phone", "portable", "telephone portable", "tel portable",
                                      "telephone mobile", "cell phone", "gsm")),
    Column("landline_phone", "Fixe", ("landline", "landline phone", "telephone fixe", "tel fixe", "ligne fixe",
                                      "poste fixe")),
    Column("preferred_language", "Langue", ("language", "preferred language", "langue preferee")),
    Column("finess", "FINESS établissement", ("finess", "establishment finess", "n finess", "no finess",
                                              "finess etablissement", "etablissement finess", "finess et"),
           required=True),
    Column("department", "Service", ("department", "unite", "unit", "service hospitalier")),
    Column("function", "Fonction", ("function", "role", "fonction role", "role in the establishment"),
           required=True),
)

COLUMNS: dict[Any, tuple[Column, ...]] = {
    ImportKind.ESTABLISHMENTS: ESTABLISHMENT_COLUMNS,
    ImportKind.PEOPLE: PERSON_COLUMNS,
}

PERSON_VALUE_FIELDS = (
    "first_name", "last_name", "job_title", "email", "mobile_phone", "landline_phone", "preferred_language",
)
ESTABLISHMENT_VALUE_FIELDS = (
    "name", "category", "region_id", "group_id", "is_priority", "is_essential_operator",
    "address", "postal_code", "city", "switchboard_phone",
)


def column_index(kind: str) -> dict[str, Column]:
    index: dict[str, Column] = {}
    for column in COLUMNS[kind]:
        for name in (column.header, column.key.replace("_", " "), *column.aliases):
            index.setdefault(norm(name), column)
    return index
