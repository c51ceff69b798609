"""The public feed of media and social-network pressure in the player space, on a 360 px
phone: a post, a journalist's call and a press article arrive without reloading, with
the establishment's name in the kit's text, a file handed with the article opens from
the feed, a post is taken in hand in place, and nothing scrolls sideways."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import reverse

from tests.browser.support import PHONE, fr
from tests.browser.test_exercise_phone import phone_for

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect

NARROW = {**PHONE, "viewport": {"width": 360, "height": 740}}
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture
def media_run(site: str, transactional_db: Any) -> Iterator[tuple[str, Any]]:
    from django.db import connection

    from planblanc.accounts.models import User
    from planblanc.crisis.db_guards import purge_logbook_for_tests
    from planblanc.directory.models import Establishment, Function, Membership
    from planblanc.exercises import services
    from planblanc.exercises.models import ExerciseRun
    from planblanc.exercises.run import run_start

    try:
        animator = User.objects.get(username="animateur.chu")
        chu = Establishment.objects.get(name="CHU de Belleval")
        exercise = services.exercise_create_from_kit(actor=animator, establishment=chu,
                                                     kit_slug="intermediaire-exfiltration")
        staff = [m.person for m in Membership.objects.filter(establishment=chu, function=Function.STAFF,
                                                            person__user__isnull=True).select_related("person")[:2]]
        for person, username, role in ((staff[0], "cellule.chu", "player"), (staff[1], "animateur.chu", "animator")):
            person.user = User.objects.get(username=username)
            person.save(update_fields=["user"])
            services.participant_add(actor=animator, exercise=exercise, person=person, role=role)
        run_start(actor=animator, exercise=exercise, speed=1)
        yield site, exercise
    finally:
        ExerciseRun.objects.all().delete()
        purge_logbook_for_tests(connection)


def test_the_media_feed_fills_by_itself_on_a_360_pixel_phone(media_run: tuple[str, Any], browse: Any) -> None:
    from planblanc.accounts.models import User
    from planblanc.exercises.attachments import inject_attachment_add
    from planblanc.exercises.models import InjectRun, InjectState
    from planblanc.exercises.run import inject_fire

    site, exercise = media_run
    article = exercise.injects.get(channel="press_article")
    inject_attachment_add(actor=User.objects.get(username="animateur.chu"), inject=article,
                          name="article-quotidien.pdf", content=PDF)
    player = phone_for(browse, site, "cellule.chu")
    player.page.set_viewport_size(NARROW["viewport"])
    page = player.page
    player.goto(reverse("exercises:run_player", args=[exercise.pk]))
    expect(page.locator("#feed")).to_contain_text(fr("Nothing in the public feed yet."))
    rows = InjectRun.objects.select_related("run__exercise__establishment", "inject").filter(
        run__exercise=exercise, inject__channel__in=("social_post", "press_call", "press_article"))
    for row in rows:
        assert inject_fire(actor="system:exercise", row=row, by_hand=False)
    post = exercise.injects.get(channel="social_post", subject="Publication sur la fuite")
    card = page.locator(f"#feed-{post.number}")
    expect(card).to_be_visible(timeout=8000)
    expect(card).to_contain_text("CHU de Belleval cache une fuite massive")
    expect(page.locator(f"#feed-{article.number}")).to_contain_text("article-quotidien.pdf")
    expect(page.locator("#feed article[data-channel=press_call]")).to_have_count(1)
    # Feed items stay out of the inbox.
    expect(page.locator(f"#inbox-{post.number}")).to_have_count(0)
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1] <= 360, width
    card.locator("button.take").click()
    expect(page.locator("#feed [role=status]")).to_contain_text(fr("Taken in hand."))
    assert InjectRun.objects.get(run__exercise=exercise, inject=post).state == InjectState.TAKEN
    link = page.locator(f"#feed-{article.number} a", has_text="article-quotidien.pdf")
    response = page.request.get(site + link.get_attribute("href"))
    assert response.status == 200 and response.body() == PDF
    player.assert_clean("the public feed")
