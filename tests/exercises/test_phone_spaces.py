"""The exercise spaces on a phone: each role sees only the links it may follow, the player
inbox is a fragment polled by HTMX, the evaluation speaks French and updates one card in
place, and the radar chart keeps its labels inside its frame with numbers in the
language of the page."""

from __future__ import annotations

import html
import re
from typing import Any

from django.urls import reverse
from django.utils import translation

from planblanc.exercises import report
from planblanc.exercises import run as run_services
from planblanc.exercises.models import ExpectedReaction, InjectRun, InjectState
from tests.conftest import verified_client
from tests.exercises.runkit import exercise_with_people, now

SPACES = ("run_console", "run_player", "run_observer")


def _links(html: str, exercise: Any) -> set[str]:
    return {name for name in SPACES if reverse(f"exercises:{name}", args=[exercise.pk]) in html}


def _started(world: Any) -> tuple[Any, Any]:
    setup = exercise_with_people(world)
    run = run_services.run_start(actor=world.exercise_animator, exercise=setup.exercise, speed=10, now=now())
    return setup, run


def test_it_shows_each_role_only_the_spaces_it_may_open(world: Any) -> None:
    setup, _run = _started(world)
    exercise = setup.exercise
    expected = {
        setup.player_user: {"run_player"},
        setup.observer_user: {"run_player", "run_observer"},  # a participant may read the inbox
        world.exercise_animator: set(SPACES),
    }
    for user, spaces in expected.items():
        client = verified_client(user)
        for name in spaces:
            response = client.get(reverse(f"exercises:{name}", args=[exercise.pk]))
            assert response.status_code == 200, (user.username, name)
            assert _links(response.content.decode(), exercise) == spaces, (user.username, name)
    # The scenario page, for the animator who may see it, offers the same spaces.
    detail = verified_client(world.exercise_animator).get(reverse("exercises:detail", args=[exercise.pk]))
    assert _links(detail.content.decode(), exercise) == set(SPACES)
    auditor = verified_client(world.auditor).get(reverse("exercises:detail", args=[exercise.pk]))
    assert auditor.status_code == 200 and _links(auditor.content.decode(), exercise) == set()


def test_it_refreshes_the_player_inbox_and_takes_an_inject_in_hand_in_place(world: Any) -> None:
    setup, run = _started(world)
    client = verified_client(setup.player_user)
    page = client.get(reverse("exercises:run_player", args=[setup.exercise.pk])).content.decode()
    inbox_url = reverse("exercises:run_player_inbox", args=[setup.exercise.pk])
    assert f'hx-get="{inbox_url}"' in page and 'hx-trigger="every 3s"' in page
    row = InjectRun.objects.select_related("run__exercise__establishment", "inject").filter(
        run=run, inject__target_cell=setup.exercise.participants.get(person=setup.players[0]).cell,
    ).order_by("inject__number").first()
    assert "Rien" in client.get(inbox_url).content.decode() or f"inbox-{row.inject.number}" not in page
    run_services.inject_fire(actor=world.exercise_animator, row=row, by_hand=True)
    fragment = client.get(inbox_url).content.decode()
    assert f'id="inbox-{row.inject.number}"' in fragment and "<html" not in fragment
    taken = client.post(reverse("exercises:run_inject", args=[setup.exercise.pk, row.pk, "take"]),
                        HTTP_HX_REQUEST="true")
    assert taken.status_code == 200 and "<html" not in taken.content.decode()
    assert 'role="status"' in taken.content.decode()
    row.refresh_from_db()
    assert row.state == InjectState.TAKEN


def test_it_shows_the_evaluation_in_french_and_updates_one_card_in_place(world: Any) -> None:
    setup, run = _started(world)
    client = verified_client(setup.observer_user)
    url = reverse("exercises:run_evaluation", args=[setup.exercise.pk])
    reaction = ExpectedReaction.objects.filter(inject__exercise=setup.exercise).order_by("inject__number", "order").first()
    response = client.post(url, {"reaction": reaction.pk, "outcome": "late"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert f'id="reaction-{reaction.pk}"' in html and 'hx-swap-oob="true"' in html
    with translation.override("fr"):
        late = translation.gettext("Late")
    assert re.search(rf'class="outcome-label">{late}<', html), html
    page = client.get(url).content.decode()
    text = re.sub(r"<[^>]+>", " ", page)
    for code in ("done", "late", "missed"):
        assert not re.search(rf"\b{code}\b", text), code  # no raw code shown
    assert "En retard" in page or late in page


def test_it_keeps_the_radar_labels_inside_the_chart_and_formats_numbers_by_language() -> None:
    labels = ["Alerte et mobilisation de la cellule de crise", "Communication", "Continuité des soins en mode dégradé",
              "Coordination avec l'ARS et le GHT", "Reprise informatique", "Décision"]
    with translation.override("fr"):
        svg = str(report.radar_svg(labels=labels, values=[87.5, 50, None, 0, 100, 62.5]))
    width, height = (float(v) for v in re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', svg).groups())
    texts = re.findall(r'<text font-size="11" text-anchor="(\w+)">(.*?)</text>', svg)
    assert len(texts) == len(labels)
    for anchor, tspans in texts:
        for x, y, escaped in re.findall(r'<tspan x="([\d.]+)" y="([\d.]+)">([^<]*)</tspan>', tspans):
            line = html.unescape(escaped)
            # At most 18 characters a line (a word cut with "…"), ~6.5 px each at 11 px.
            assert len(line) <= 19, line
            extent = 6.5 * len(line)
            left = {"start": float(x), "end": float(x) - extent, "middle": float(x) - extent / 2}[anchor]
            assert left >= 0 and left + extent <= width, (line, anchor, x)
            assert float(y) - 11 >= 0 and float(y) <= height, (line, y)
    assert "87,5" in svg and "87.5" not in svg
    with translation.override("en"):
        assert "87.5" in str(report.radar_svg(labels=labels, values=[87.5, 50, None, 0, 100, 62.5]))
