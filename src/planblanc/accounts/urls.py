from django.urls import path

from planblanc.accounts import views

app_name = "accounts"
urlpatterns = [
    path("connexion/", views.LoginView.as_view(), name="login"),
    path("deconnexion/", views.LogoutView.as_view(), name="logout"),
    path("double-authentification/", views.two_factor, name="two_factor"),
    path("jetons-api/", views.api_tokens, name="api_tokens"),
    path("jetons-api/<int:pk>/revoquer/", views.api_token_revoke, name="api_token_revoke"),
    path("journal-audit/", views.audit_log, name="audit_log"),
    path("acces/", views.access_list, name="access_list"),
    path("acces/<int:pk>/retirer/", views.access_revoke, name="access_revoke"),
]
