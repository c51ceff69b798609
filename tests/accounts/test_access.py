"""The access page: an establishment administrator gives roles over their own establishment."""

from django.urls import reverse

from planblanc.accounts.models import AuditEntry, RoleAssignment, User
from planblanc.tenancy import Role


def test_it_creates_a_login_with_a_role_in_one_step(client_for, world):
    response = client_for("establishment_admin").post(reverse("accounts:access_list"), {
        "username": "nouveau.membre", "password": "un-mot-de-passe-long-2026", "role": Role.CRISIS_MEMBER,
        "establishment": world.chu.pk, "first_name": "Nina", "last_name": "Roux",
    })
    assert response.status_code == 302
    user = User.objects.get(username="nouveau.membre")
    assert user.check_password("un-mot-de-passe-long-2026")
    assert RoleAssignment.objects.filter(user=user, role=Role.CRISIS_MEMBER, establishment=world.chu).exists()
    assert AuditEntry.objects.filter(action="role.assign", object_id=str(user.pk)).exists()


def test_it_refuses_a_role_over_another_establishment_and_creates_nothing(client_for, world):
    response = client_for("establishment_admin").post(reverse("accounts:access_list"), {
        "username": "intrus", "password": "un-mot-de-passe-long-2026", "role": Role.CRISIS_MEMBER,
        "establishment": world.clinic.pk,
    })
    assert response.status_code == 200  # the form comes back with its error
    assert not User.objects.filter(username="intrus").exists()


def test_it_refuses_a_weak_password_with_a_message(client_for, world):
    response = client_for("establishment_admin").post(reverse("accounts:access_list"), {
        "username": "faible", "password": "123", "role": Role.AUDITOR, "establishment": world.chu.pk,
    })
    assert response.status_code == 200
    assert response.context["form"].errors
    assert not User.objects.filter(username="faible").exists()


def test_it_lists_only_roles_in_scope(client_for, world):
    body = client_for("establishment_admin").get(reverse("accounts:access_list")).content.decode()
    assert "crisis_member" in body  # the CHU's crisis-cell member login
    assert "outsider_admin" not in body


def test_it_hides_the_page_from_read_only_roles(client_for, world):
    assert client_for("crisis_member").get(reverse("accounts:access_list")).status_code == 404


def test_it_revokes_a_role_but_not_ones_own_admin_role(client_for, world):
    client = client_for("establishment_admin")
    member_role = RoleAssignment.objects.get(user=world.crisis_member)
    own_role = RoleAssignment.objects.get(user=world.establishment_admin)
    client.post(reverse("accounts:access_revoke", args=[member_role.pk]))
    client.post(reverse("accounts:access_revoke", args=[own_role.pk]))
    assert not RoleAssignment.objects.filter(pk=member_role.pk).exists()
    assert RoleAssignment.objects.filter(pk=own_role.pk).exists()


def test_it_cannot_revoke_a_role_outside_its_scope(client_for, world):
    outsider_role = RoleAssignment.objects.get(user=world.outsider_admin)
    response = client_for("establishment_admin").post(reverse("accounts:access_revoke", args=[outsider_role.pk]))
    assert response.status_code == 404
    assert RoleAssignment.objects.filter(pk=outsider_role.pk).exists()
