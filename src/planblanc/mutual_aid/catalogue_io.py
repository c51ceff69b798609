"""CSV/XLSX import and export of the pooled-resource catalogue, in the same columns both
ways (an exported file imports back unchanged). Files are read and written by the
platform's bounded spreadsheet module (core.tabular: size, rows, cells and time capped;
formulas neutralised on export) and imported in two steps like the directory: upload and
preview, then confirm."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from planblanc.accounts.audit import audit_record
from planblanc.actors import Actor
from planblanc.core import tabular
from planblanc.mutual_aid import services
from planblanc.mutual_aid.models import OwnerLevel, Resource, ResourceImport, ResourceKind

# key, header written by the export (a file format: French, fixed), accepted aliases.
COLUMNS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("kind", "Type", ("kind", "type de ressource", "categorie")),
    ("name", "Ressource", ("resource", "name", "nom", "intitule")),
    ("quantity", "Quantité", ("quantity", "qte", "nombre")),
    ("description", "Description", ("competences", "skills", "details")),
    ("location", "Lieu", ("where", "location", "ou")),
    ("contact", "Contact", ("who to call", "qui appeler", "referent")),
    ("contact_phone", "Téléphone", ("phone", "telephone", "tel")),
    ("delay", "Délai", ("delay", "delai de mise a disposition")),
    ("cost", "Coût", ("cost", "cout", "tarif")),
    ("agreement", "Convention", ("agreement", "agreement reference", "reference convention")),
)
KIND_WORDS = {
    "people": ResourceKind.PEOPLE, "personnes": ResourceKind.PEOPLE, "personnes et competences": ResourceKind.PEOPLE,
    "people and skills": ResourceKind.PEOPLE, "competences": ResourceKind.PEOPLE,
    "equipment": ResourceKind.EQUIPMENT, "materiel": ResourceKind.EQUIPMENT, "equipement": ResourceKind.EQUIPMENT,
    "service": ResourceKind.SERVICE, "services": ResourceKind.SERVICE, "prestation": ResourceKind.SERVICE,
}
KIND_EXPORT = {ResourceKind.PEOPLE: "personnes", ResourceKind.EQUIPMENT: "matériel", ResourceKind.SERVICE: "service"}
FORMATS = ("csv", "xlsx")
HEADER = [header for _key, header, _aliases in COLUMNS]


def export_rows(resources: Iterable[Resource]) -> Iterator[list[Any]]:
    """The header, then one row per resource (core.tabular neutralises formulas)."""
    yield HEADER
    for resource in resources:
        yield [
            KIND_EXPORT.get(resource.kind, resource.kind), resource.name, resource.quantity, resource.description,
            resource.location, resource.contact, resource.contact_phone, resource.delay, resource.cost,
            resource.agreement,
        ]


def export_response(resources: Iterable[Resource], *, fmt: str, filename: str) -> Any:
    rows = export_rows(resources)
    if fmt == "csv":
        return tabular.csv_response(rows, filename=filename, streaming=True)
    return tabular.xlsx_response([("Ressources", rows)], filename=filename)


def _index() -> dict[str, str]:
    index: dict[str, str] = {}
    for key, header, aliases in COLUMNS:
        for word in (key, header, *aliases):
            index[tabular.norm(word)] = key
    return index


def parse(*, filename: str, content: bytes) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(good rows, errors by line) of a catalogue file; a ValidationError for a bad file."""
    table = tabular.read_table(filename=filename, content=content)
    if not table.rows:
        raise ValidationError(_("The file is empty."), code="bad_file")
    index = _index()
    (_line, header), *rows = table.rows
    keys = {position: index.get(tabular.norm(text)) for position, text in enumerate(header)}
    if "name" not in keys.values() or "kind" not in keys.values():
        raise ValidationError(_("The first line must name the columns, at least: %(columns)s.")
                              % {"columns": "Type, Ressource"}, code="bad_file")
    good: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for line, cells in rows:
        data = {key: (tabular.unquote(cells[position]) if position < len(cells) else "")
                for position, key in keys.items() if key}
        if not any(data.values()):
            continue
        data["kind"] = KIND_WORDS.get(tabular.norm(data.get("kind", "")), data.get("kind", ""))
        data["quantity"] = data.get("quantity") or "1"
        try:
            good.append({"line": line, **services.resource_clean(data)})
        except ValidationError as exc:
            messages = [f"{field}: {' '.join(str(m) for m in msgs)}" for field, msgs in exc.message_dict.items()]
            errors.append({"line": line, "messages": messages})
    return good, errors


def import_upload(*, actor: Actor, level: str, owner: Any, filename: str, content: bytes) -> ResourceImport:
    services.resource_owner_check(actor=actor, level=level, owner=owner)
    good, errors = parse(filename=filename, content=content)
    fields = services.owner_fields(level, owner)
    return ResourceImport.objects.create(
        region=fields["region"], group=fields["group"], establishment=fields["establishment"], uploaded_by=actor,
        filename=filename[:255], rows=good, errors=errors,
    )


def import_apply(*, actor: Actor, batch: ResourceImport) -> int:
    """Add every good row of the previewed file to the owner's catalogue, all or nothing."""
    level = (OwnerLevel.ESTABLISHMENT if batch.establishment_id else
             OwnerLevel.GROUP if batch.group_id else OwnerLevel.REGION)
    owner = batch.establishment or batch.group or batch.region
    services.resource_owner_check(actor=actor, level=level, owner=owner)
    if batch.applied_at is not None:
        raise ValidationError(_("This file was already imported."))
    fields = services.owner_fields(level, owner)
    with transaction.atomic():
        if ResourceImport.objects.filter(pk=batch.pk, applied_at=None).update(applied_at=timezone.now()) != 1:
            raise ValidationError(_("This file was already imported."))
        created = Resource.objects.bulk_create([
            Resource(**fields, **{k: v for k, v in row.items() if k != "line"}) for row in batch.rows
        ])
        audit_record(actor=actor, action="mutual_aid.resource_import", obj=batch,
                     establishment=fields["establishment"], changes={"rows": len(created), "file": batch.filename})
    return len(created)
