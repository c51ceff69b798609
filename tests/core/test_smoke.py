import pytest
from django.urls import reverse


def test_it_serves_the_login_page_in_french(client, db):
    response = client.get(reverse("accounts:login"))
    assert response.status_code == 200
    assert "Connexion" in response.content.decode()


@pytest.mark.parametrize("persona", ["national_admin", "crisis_member", "outsider_admin"])
def test_it_shows_the_dashboard_to_each_persona(client_for, world, persona):
    response = client_for(persona).get(reverse("core:home"))
    assert response.status_code == 200
