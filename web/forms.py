"""The member UI's edit forms. They render and read HTML fields; the API's serializers judge the values.

A manager's edit of a job or a budget is validated by the same JobSerializer and
BudgetSerializer as a PATCH to the API (same rules, same messages, same team checks), and a
job edit rolls up the days the job covered before and after, as the API's update does.
"""

from django import forms
from django.db import transaction
from rest_framework import serializers

from costs.budgets.api.serializers import BudgetSerializer
from costs.budgets.models import Budget
from jobs.api.serializers import END_BEFORE_START, JobSerializer
from jobs.models import Job
from jobs.services.changes import job_days, jobs_changed

JOB_FIELDS = ["team", "model_name", "provider", "gpu_type", "gpu_count", "region", "pricing", "start_time",
              "end_time", "status", "external_id"]  # fmt: skip
DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local", "step": 1}, format="%Y-%m-%dT%H:%M:%S")


class JobForm(forms.ModelForm):
    """A job's fields as HTML inputs (times in UTC)."""

    # One rule and one message for -1 and 0 alike (the model field's form default is >= 0, its validator >= 1).
    gpu_count = forms.IntegerField(min_value=1, label="GPUs")

    class Meta:
        model = Job
        fields = JOB_FIELDS
        widgets = {"start_time": DATETIME, "end_time": DATETIME}
        labels = {"start_time": "Start (UTC)", "end_time": "End (UTC)", "gpu_count": "GPUs", "gpu_type": "GPU type"}

    def clean(self) -> dict:
        """An end before the start, in the API's words (else the database constraint's name would be shown)."""
        data = super().clean() or {}
        start, end = data.get("start_time"), data.get("end_time")
        if start and end and end < start:
            self.add_error("end_time", END_BEFORE_START)
        return data


class BudgetForm(forms.Form):
    """A budget with lists typed as text: thresholds "50, 80, 100", one e-mail or webhook URL per line."""

    amount_usd = forms.CharField(label="Amount (USD)", help_text="e.g. 12,500.00")
    period = forms.ChoiceField(choices=Budget.Period.choices)
    thresholds = forms.CharField(label="Alert at (% of the budget)", help_text="e.g. 50, 80, 100")
    emails = forms.CharField(label="E-mail recipients", widget=forms.Textarea(attrs={"rows": 3}), required=False,
                             help_text="one address per line")  # fmt: skip
    webhook_urls = forms.CharField(label="Webhook URLs", widget=forms.Textarea(attrs={"rows": 3}), required=False,
                                   help_text="one URL per line")  # fmt: skip
    run_rate_days = forms.IntegerField(label="Run-rate window (days)")
    min_efficiency_pct = forms.CharField(label="Alert under GPU efficiency (%)", required=False,
                                         help_text="1-100; empty: no efficiency alert")  # fmt: skip
    efficiency_days = forms.CharField(label="Efficiency window (full days)", required=False,
                                      help_text="1-31; empty: unchanged (7 for a new budget)")  # fmt: skip
    active = forms.BooleanField(required=False)

    @classmethod
    def for_budget(cls, budget: Budget) -> "BudgetForm":
        return cls(initial={
            "amount_usd": f"{budget.amount_usd:,}", "period": budget.period,
            "thresholds": ", ".join(str(t) for t in budget.thresholds or []),
            "emails": "\n".join(budget.emails or []), "webhook_urls": "\n".join(budget.webhook_urls or []),
            "run_rate_days": budget.run_rate_days, "active": budget.active,
            "min_efficiency_pct": "" if budget.min_efficiency_pct is None else budget.min_efficiency_pct,
            "efficiency_days": budget.efficiency_days,
        })  # fmt: skip

    def api_data(self) -> dict:
        """The form's text as the API's JSON body."""
        data = self.data

        def lines(name: str) -> list[str]:
            return [line.strip() for line in data.get(name, "").splitlines() if line.strip()]

        return {
            "amount_usd": data.get("amount_usd", "").replace(",", "").strip(),
            "period": data.get("period", ""),
            "thresholds": [part.strip() for part in data.get("thresholds", "").split(",") if part.strip()],
            "emails": lines("emails"),
            "webhook_urls": lines("webhook_urls"),
            "run_rate_days": data.get("run_rate_days", ""),
            "min_efficiency_pct": data.get("min_efficiency_pct", "").strip() or None,
            **({"efficiency_days": days} if (days := data.get("efficiency_days", "").strip()) else {}),
            "active": data.get("active") in ("on", "true", "1"),
        }


def _flat(detail) -> list[str]:
    """DRF's error detail (lists, and dicts for a list's items) as plain messages."""
    if isinstance(detail, dict):
        return [text for value in detail.values() for text in _flat(value)]
    if isinstance(detail, list):
        return [text for value in detail for text in _flat(value)]
    return [str(detail)]


def _errors_onto(form: forms.BaseForm, serializer: serializers.Serializer) -> None:
    for name, detail in serializer.errors.items():
        field = name if name in form.fields else None
        shown = {str(error) for error in form.errors.get(field or "__all__", [])}
        fresh = [text for text in _flat(detail) if text not in shown]
        if fresh:
            form.add_error(field, fresh)


def job_save(*, form: JobForm, job: Job, request) -> bool:
    """Validate the form's values as the API does and save them; False (errors on the form) when refused."""
    serializer = JobSerializer(instance=job, data=request.POST, partial=True, context={"request": request})
    if not serializer.is_valid():
        _errors_onto(form, serializer)
        return False
    with transaction.atomic():
        days = job_days(job)
        saved = serializer.save()
        days.add(saved.start_time, saved.end_time)
        jobs_changed(days)
    return True


def budget_save(*, form: BudgetForm, budget: Budget, request) -> bool:
    """Validate the form's values as the API does and save them; False (errors on the form) when refused."""
    serializer = BudgetSerializer(instance=budget, data=form.api_data(), partial=True, context={"request": request})
    if not serializer.is_valid():
        _errors_onto(form, serializer)
        return False
    serializer.save()
    return True
