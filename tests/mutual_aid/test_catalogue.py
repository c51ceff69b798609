"""The pooled-resource catalogue: visible in its region only, kept by its owner,
imported (preview, then confirm) and exported in the same columns."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import translation

from planblanc.mutual_aid import catalogue_io, services
from planblanc.mutual_aid.models import Resource
from tests.conftest import verified_client


def make(actor, level, owner, name, **data):
    return services.resource_create(actor=actor, level=level, owner=owner,
                                    data={"kind": "equipment", "name": name, "quantity": 5, **data})


def test_it_shows_the_catalogue_in_the_region_and_never_outside(world):
    make(world.establishment_admin, "establishment", world.chu, "Routeur 4G CHU")
    make(world.group_ciso, "group", world.group_a, "PC autonomes GHT")
    make(world.regional_officer, "region", world.region_a, "CSIRT régional", kind="people")
    make(world.outsider_admin, "establishment", world.clinic, "Téléphone satellite clinique")
    names = lambda user: set(Resource.objects.visible_to(user).values_list("name", flat=True))  # noqa: E731
    region_a = {"Routeur 4G CHU", "PC autonomes GHT", "CSIRT régional"}
    assert names(world.crisis_member) == region_a
    assert names(world.group_ciso) == region_a
    assert names(world.regional_officer) == region_a
    assert names(world.outsider_admin) == {"Téléphone satellite clinique"}
    assert len(names(world.national_admin)) == 4
    with pytest.raises(PermissionDenied):
        make(world.group_ciso, "region", world.region_a, "x")
    with pytest.raises(PermissionDenied):
        make(world.crisis_member, "establishment", world.chu, "x")


def test_an_exported_file_imports_back_the_same(world):
    make(world.group_ciso, "group", world.group_a, "PC autonomes", location="Site CH A", contact="Astreinte DSI",
         contact_phone="+33639980001", delay="2 h", cost="gratuit", agreement="CONV-GHT-12",
         description="=formule piégée")
    from planblanc.core import tabular

    rows = list(catalogue_io.export_rows(Resource.objects.all()))
    csv_bytes = tabular.csv_bytes(rows)
    xlsx_bytes = tabular.xlsx_bytes([("Ressources", rows)])
    assert "'=formule piégée" in csv_bytes.decode("utf-8")  # a spreadsheet would run it
    for name, content in (("r.csv", csv_bytes), ("r.xlsx", xlsx_bytes)):
        good, errors = catalogue_io.parse(filename=name, content=content)
        assert not errors
        assert good[0] | {"line": 0} == {
            "line": 0, "kind": "equipment", "name": "PC autonomes", "quantity": 5, "description": "=formule piégée",
            "location": "Site CH A", "contact": "Astreinte DSI", "contact_phone": "+33639980001", "delay": "2 h",
            "cost": "gratuit", "agreement": "CONV-GHT-12"}


def test_the_import_previews_then_confirms_all_or_nothing(world):
    content = ("Type;Ressource;Quantité;Lieu\nmatériel;Imprimantes;4;Magasin\npersonnes;;1;\n"
               "service;Biologie;beaucoup;\n").encode()
    client = verified_client(world.group_ciso)
    response = client.post("/entraide/catalogue/import/", {
        "owner": f"group:{world.group_a.pk}",
        "file": _upload("catalogue.csv", content)})
    assert response.status_code == 302
    preview = client.get(response["Location"])
    body = preview.content.decode()
    # The page speaks French (the users' language) whatever the test's active language.
    with translation.override("fr"):
        line = translation.gettext("Line %(line)s")
    assert line % {"line": 3} in body and line % {"line": 4} in body and "Imprimantes" in body
    assert not Resource.objects.exists()
    client.post(response["Location"])
    assert list(Resource.objects.values_list("name", "group_id")) == [("Imprimantes", world.group_a.pk)]
    assert client.post(response["Location"]).status_code == 404  # once only
    outsider = verified_client(world.outsider_admin).post("/entraide/catalogue/import/", {
        "owner": f"group:{world.group_a.pk}", "file": _upload("c.csv", content)})
    # The group is not among the outsider's choices: refused beside the field, nothing kept.
    assert outsider.status_code == 200 and "owner" in outsider.context["owner_form"].errors
    from planblanc.mutual_aid.models import ResourceImport

    assert ResourceImport.objects.count() == 1


def _upload(name, content):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type="text/csv")
