"""Exercise material: real files handed with injects (bounded by the upload cap, typed by
their bytes, stored with their SHA-256, shown to the inject's recipients only once it is
fired) and the public feed of media and social-network pressure (kit text with the
establishment's names, shown apart from the inbox, updated in place, its expected
reactions scored on the grid when a communication is approved)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from planblanc.exercises import attachments, evaluation, media
from planblanc.exercises import run as run_services
from planblanc.exercises.models import (
    CriterionArea,
    ExpectedReaction,
    InjectRun,
    Outcome,
    ReactionCheck,
)
from tests.conftest import verified_client
from tests.exercises.runkit import exercise_with_people, now, person_in

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_it_types_files_by_their_bytes() -> None:
    assert attachments.sniff(PDF) == "application/pdf"
    assert attachments.sniff(PNG) == "image/png"
    assert attachments.sniff(b"\xff\xd8\xff\xe0rest") == "image/jpeg"
    assert attachments.sniff("Rançon : 50 BTC".encode()) == "text/plain"
    assert attachments.sniff(b"<html><script>alert(1)</script>") is None
    assert attachments.sniff(b"MZ\x90\x00\x03\x00\x00\x00\xff\xff") is None  # a Windows program


def test_it_stores_a_file_with_its_sha256_within_the_upload_cap(world: Any, settings: Any) -> None:
    setup = exercise_with_people(world)
    inject = setup.exercise.injects.order_by("number").first()
    stored = attachments.inject_attachment_add(actor=world.exercise_animator, inject=inject,
                                               name="../../rançon.pdf", content=PDF)
    assert stored.sha256 == hashlib.sha256(PDF).hexdigest() and stored.content_type == "application/pdf"
    assert stored.name == "rançon.pdf" and ".." not in stored.path
    assert (Path(django_settings.DATA_DIR) / stored.path).read_bytes() == PDF
    settings.PLANBLANC_MAX_UPLOAD_BYTES = 1024
    with pytest.raises(ValidationError) as too_big:
        attachments.inject_attachment_add(actor=world.exercise_animator, inject=inject, name="big.png",
                                          content=PNG + b"\x00" * 2048)
    with pytest.raises(ValidationError) as wrong_type:
        attachments.inject_attachment_add(actor=world.exercise_animator, inject=inject, name="x.pdf",
                                          content=b"MZ\x90\x00" + b"\xff" * 10)
    assert "file" in too_big.value.message_dict and "file" in wrong_type.value.message_dict
    assert too_big.value.messages != wrong_type.value.messages and inject.files.count() == 1
    # A stored file altered on disk is not served.
    (Path(django_settings.DATA_DIR) / stored.path).write_bytes(PDF + b"x")
    with pytest.raises(ValidationError, match="SHA-256"):
        attachments.attachment_content(stored)
    (Path(django_settings.DATA_DIR) / stored.path).write_bytes(PDF)


def test_players_get_a_file_only_once_the_inject_is_fired_to_them(world: Any, client_for: Any) -> None:
    setup = exercise_with_people(world, "intermediaire-exfiltration")
    exercise = setup.exercise
    targeted = exercise.injects.exclude(target_cell="").exclude(channel__in=media.FEED_CHANNELS).order_by(
        "number").first()
    designer = client_for("exercise_animator")
    upload = designer.post(reverse("exercises:inject_file_add", args=[exercise.pk, targeted.pk]),
                           {"file": SimpleUploadedFile("mail-piege.pdf", PDF)})
    assert upload.status_code == 302
    attachment = targeted.files.get()
    page = designer.get(reverse("exercises:inject_edit", args=[exercise.pk, targeted.pk])).content.decode()
    assert "mail-piege.pdf" in page and attachment.sha256[:14] in page
    assert designer.get(reverse("exercises:inject_file", args=[exercise.pk, targeted.pk, attachment.pk])
                        ).content == PDF
    url = reverse("exercises:run_player_attachment", args=[exercise.pk, attachment.pk])
    # A player of the inject's cell, and one of another cell.
    player = setup.players[[p.pk for p in setup.players].index(
        exercise.participants.get(cell__iexact=targeted.target_cell, role="player").person_id)]
    other = person_in(world.chu, first_name="Autre", last_name="Cellule", email="autre@chu-a.example")
    other.user = type(setup.player_user).objects.create(username="autre.cellule")
    other.save()
    exercise.participants.create(person=other, role="player", cell="Une autre cellule")
    player.user = player.user or type(setup.player_user).objects.create(username="joueur.cible")
    player.save()
    mine, theirs = verified_client(player.user), verified_client(other.user)
    run = run_services.run_start(actor=world.exercise_animator, exercise=exercise, now=now())
    assert mine.get(url).status_code == 404  # not fired yet
    row = InjectRun.objects.get(run=run, inject=targeted)
    run_services.inject_fire(actor=world.exercise_animator, row=row)
    answer = mine.get(url)
    assert answer.status_code == 200 and answer.content == PDF
    assert answer["Content-Type"] == "application/pdf" and answer["X-Content-Type-Options"] == "nosniff"
    assert url in mine.get(reverse("exercises:run_player_inbox", args=[exercise.pk])).content.decode()
    assert theirs.get(url).status_code == 404
    assert client_for("outsider_admin").get(url).status_code == 404
    assert client_for("outsider_admin").get(
        reverse("exercises:inject_file", args=[exercise.pk, targeted.pk, attachment.pk])).status_code == 404
    assert client_for("outsider_admin").post(
        reverse("exercises:inject_file_delete", args=[exercise.pk, targeted.pk, attachment.pk])).status_code == 404
    assert client_for("outsider_admin").post(reverse("exercises:inject_file_add", args=[exercise.pk, targeted.pk]),
                                             {"file": SimpleUploadedFile("x.pdf", PDF)}).status_code == 404
    designer.post(reverse("exercises:inject_file_delete", args=[exercise.pk, targeted.pk, attachment.pk]))
    assert not targeted.files.exists()


def test_the_feed_shows_kit_text_with_the_establishments_names_apart_from_the_inbox(
        world: Any, client_for: Any) -> None:
    world.chu.city = "Belleval"
    world.chu.save()
    setup = exercise_with_people(world, "intermediaire-exfiltration")
    exercise = setup.exercise
    post = exercise.injects.get(channel="social_post", subject="Publication sur la fuite")
    article = exercise.injects.get(channel="press_article")
    call = exercise.injects.get(channel="press_call")
    assert world.chu.name in post.content and "{etablissement}" not in post.content
    assert "(Belleval)" in article.content and "{directeur}" not in call.content
    run = run_services.run_start(actor=world.exercise_animator, exercise=exercise, now=now())
    for inject in (post, article, call):
        run_services.inject_fire(actor=world.exercise_animator, row=InjectRun.objects.get(run=run, inject=inject))
    player = verified_client(setup.player_user)
    feed = player.get(reverse("exercises:run_player_feed", args=[exercise.pk])).content.decode()
    assert f'id="feed-{post.number}"' in feed and f'id="feed-{article.number}"' in feed
    inbox = player.get(reverse("exercises:run_player_inbox", args=[exercise.pk])).content.decode()
    assert f'id="inbox-{post.number}"' not in inbox
    page = player.get(reverse("exercises:run_player", args=[exercise.pk])).content.decode()
    assert reverse("exercises:run_player_feed", args=[exercise.pk]) in page and 'hx-trigger="every 3s"' in page
    # Taken in hand from the feed: the feed answers, updated in place.
    row = InjectRun.objects.get(run=run, inject=post)
    answer = player.post(reverse("exercises:run_inject", args=[exercise.pk, row.pk, "take"]), HTTP_HX_REQUEST="true")
    assert f'id="feed-{post.number}"' in answer.content.decode() and "inbox-" not in answer.content.decode()
    assert client_for("outsider_admin").get(reverse("exercises:run_player_feed", args=[exercise.pk])).status_code == 404


def test_an_approved_holding_statement_scores_the_media_reaction(world: Any) -> None:
    from planblanc.crisis.communication import communication_approve, communication_draft
    from planblanc.directory.models import Function, Membership

    setup = exercise_with_people(world, "intermediaire-exfiltration")
    exercise = setup.exercise
    post = exercise.injects.get(channel="social_post", subject="Publication sur la fuite")
    holding = ExpectedReaction.objects.get(inject=post, description__startswith="Faire approuver")
    assert holding.criterion.area == CriterionArea.EXTERNAL_COMMUNICATION
    start = now()
    run = run_services.run_start(actor=world.exercise_animator, exercise=exercise, now=start)
    run_services.inject_fire(actor=world.exercise_animator, row=InjectRun.objects.get(run=run, inject=post))
    evaluation.evaluation_compute(run=run)
    assert not ReactionCheck.objects.filter(run=run, reaction=holding).exists()
    Membership.objects.filter(person__user=world.exercise_animator, establishment=world.chu).update(
        function=Function.DIRECTOR)
    draft = communication_draft(actor=world.exercise_animator, crisis=run.crisis, template_key="press")
    communication_approve(actor=world.exercise_animator, draft=draft)
    evaluation.evaluation_compute(run=run)
    assert ReactionCheck.objects.get(run=run, reaction=holding).outcome == Outcome.DONE
    scores = evaluation.evaluation_scores(run=run)
    external = next(score for criterion, score in scores.by_criterion
                    if criterion.area == CriterionArea.EXTERNAL_COMMUNICATION)
    assert external.counts["done"] >= 1


def test_files_travel_with_the_json_chronogramme(world: Any) -> None:
    from planblanc.exercises import chronogramme as chrono
    from planblanc.exercises import services

    setup = exercise_with_people(world)
    inject = setup.exercise.injects.order_by("number").first()
    attachments.inject_attachment_add(actor=world.exercise_animator, inject=inject, name="rançon.png", content=PNG)
    document = chrono.export_json(setup.exercise)
    entry = next(i for i in document["injects"] if i["number"] == inject.number)
    assert entry["files"][0]["sha256"] == hashlib.sha256(PNG).hexdigest()
    copy = services.exercise_create(actor=world.exercise_animator, establishment=world.chu, title="Copie")
    services.chronogramme_import(actor=world.exercise_animator, exercise=copy, chronogramme=chrono.read_json(document))
    stored = copy.injects.get(number=inject.number).files.get()
    assert stored.sha256 == hashlib.sha256(PNG).hexdigest() and attachments.attachment_content(stored) == PNG
    # Bad base64, or content that does not match its SHA-256: an error on the inject's row.
    entry["files"] = [{"name": "a.png", "content_base64": "%%%"},
                      {**entry["files"][0], "sha256": "0" * 64}]
    result = chrono.read_json(document)
    messages = [e.message for e in result.errors]
    assert len(messages) == 2 and len(result.bad_rows) == 1 and {e.where for e in result.errors} == result.bad_rows
    # A file of a refused type refuses the import, nothing saved.
    entry["files"] = [{"name": "prog.exe", "content_base64": "TVqQAAMAAAAEAAAA//8AALgAAAA="}]
    other = services.exercise_create(actor=world.exercise_animator, establishment=world.chu, title="Autre")
    with pytest.raises(ValidationError):
        services.chronogramme_import(actor=world.exercise_animator, exercise=other,
                                     chronogramme=chrono.read_json(document))
    assert not other.injects.exists()
