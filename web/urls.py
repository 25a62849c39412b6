"""The member UI at `/` (heliox.urls includes it last)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from web.views import budgets, jobs, saved, spend, tokens

app_name = "web"
urlpatterns = [
    path("", spend.home, name="home"),
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="web/login.html", redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("teams/<uuid:pk>/", spend.team, name="team"),
    path("teams/<uuid:pk>/model/", spend.model, name="model"),
    path("teams/<uuid:pk>/label/", spend.label, name="label"),
    path("jobs/", jobs.job_list, name="jobs"),
    path("jobs/<uuid:pk>/", jobs.job_detail, name="job"),
    path("jobs/<uuid:pk>/edit/", jobs.job_edit, name="job_edit"),
    path("budgets/", budgets.budget_list, name="budgets"),
    path("budgets/<uuid:pk>/edit/", budgets.budget_edit, name="budget_edit"),
    path("views/", saved.saved_list, name="views"),
    path("views/save/", saved.saved_save, name="view_save"),
    path("views/<uuid:pk>/delete/", saved.saved_delete, name="view_delete"),
    path("tokens/", tokens.tokens, name="tokens"),
    path("tokens/<str:key>/revoke/", tokens.token_revoke, name="token_revoke"),
]
