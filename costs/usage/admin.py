from decimal import Decimal

from django import forms
from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from costs.usage.models import FxRate, RollupBacklog, UsageSnapshot
from costs.usage.services.fx import currency_problem, rate_problem
from heliox.admin_utils import BoundedCountPaginator


@admin.register(UsageSnapshot)
class UsageSnapshotAdmin(admin.ModelAdmin):
    list_display = [
        "date",
        "team",
        "provider",
        "gpu_type",
        "gpu_hours",
        "estimated_cost_usd",
        "job_count",
        "unpriced_gpu_hours",
        "unpriced_job_count",
        "allocated_waste_usd",
        "allocated_shared_waste_usd",
    ]
    list_filter = ["provider", "gpu_type", "team"]
    list_select_related = ["team"]
    autocomplete_fields = ["team"]
    date_hierarchy = "date"
    search_fields = ["team__name", "gpu_type"]
    # The rollup computes the allocated waste with the allocation (README: Kubernetes and GPU efficiency): an
    # edit here would no longer add up to the rows and slices below it.
    readonly_fields = ["created_at", "updated_at", "allocated_waste_usd", "allocated_shared_waste_usd"]
    paginator = BoundedCountPaginator
    show_full_result_count = False


class FxRateForm(forms.ModelForm):
    """Currency and rate as set_fx_rate bounds them. SQLite keeps decimals as floats: a rate the column
    takes (up to 10^10) but past MAX_RATE, like 9999999999.99999999, came back as 10^10, which no longer fits
    the column, and reading it raised decimal.InvalidOperation on every page that converts."""

    class Meta:
        model = FxRate
        fields = ["currency", "rate_per_usd", "as_of"]

    def clean_currency(self) -> str:
        currency = self.cleaned_data["currency"].strip()
        if currency_problem(currency):
            raise forms.ValidationError(currency_problem(currency))
        return currency.upper()

    def clean_rate_per_usd(self) -> Decimal:
        rate = self.cleaned_data["rate_per_usd"]
        if rate_problem(rate):
            raise forms.ValidationError(rate_problem(rate))
        return rate


@admin.register(FxRate)
class FxRateAdmin(SimpleHistoryAdmin):
    form = FxRateForm
    list_display = ["currency", "rate_per_usd", "as_of"]
    list_filter = ["currency"]
    date_hierarchy = "as_of"


@admin.register(RollupBacklog)
class RollupBacklogAdmin(admin.ModelAdmin):
    """Days owed to the rollup (no workers): read only; the next `rollup` without dates clears them."""

    list_display = ["start", "end", "created_at"]
    date_hierarchy = "start"
    readonly_fields = ["start", "end", "created_at", "updated_at"]
    paginator = BoundedCountPaginator
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # deleting would leave the days stale for good
