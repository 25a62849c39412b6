from django.contrib import admin
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html
from knox.models import AuthToken
from simple_history.admin import SimpleHistoryAdmin

from teams.models import Membership, Team


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]
    fields = ["user", "role"]


@admin.register(Team)
class TeamAdmin(SimpleHistoryAdmin):
    # jobs/admin.py adds the jobs columns: teams sits below jobs and does not know them.
    list_display = ["name", "member_count", "spend_link", "created_at"]
    search_fields = ["name", "description"]
    inlines = [MembershipInline]
    readonly_fields = ["created_at", "updated_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_member_count=Count("memberships", distinct=True))

    @admin.display(description="Members", ordering="_member_count")
    def member_count(self, team: Team) -> int:
        return team._member_count  # type: ignore[attr-defined]  # annotated in get_queryset

    @admin.display(description="")
    def spend_link(self, team: Team) -> str:
        return format_html('<a href="{}">Spend</a>', reverse("admin:team_dashboard", args=[team.pk]))


@admin.register(Membership)
class MembershipAdmin(SimpleHistoryAdmin):
    list_display = ["user", "team", "role", "created_at"]
    list_filter = ["role", "team"]
    list_select_related = ["user", "team"]
    search_fields = ["user__username", "user__email", "team__name"]
    autocomplete_fields = ["user", "team"]


admin.site.unregister(AuthToken)


@admin.register(AuthToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """API tokens: who, since when, until when. Neither the token nor its key is shown; deleting revokes it.

    Tokens are created with `manage.py create_api_token`, which prints one once.
    """

    list_display = ["user", "created", "expiry"]
    list_filter = ["created", "expiry"]
    list_select_related = ["user"]
    search_fields = ["user__username"]
    fields = ["user", "created", "expiry"]
    readonly_fields = ["user", "created", "expiry"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
