"""The budget form of the admin: lists as people type them, amounts with thousands separators.

Thresholds as "50, 80, 100", one e-mail address or webhook URL per line, "1,250,000.00".
The model's validators still check every value (the API shares them).
"""

import json
from decimal import Decimal, InvalidOperation

from django import forms

from costs.budgets.models import Budget


class CommaListField(forms.CharField):
    """Whole percentages separated by commas (or spaces): "50, 80, 100" -> [50, 80, 100]."""

    def prepare_value(self, value):
        return ", ".join(str(item) for item in value) if isinstance(value, list) else value

    def to_python(self, value) -> list[int]:  # type: ignore[override]
        text = super().to_python(value) or ""
        items = [item for item in text.strip().strip("[]").replace(",", " ").split() if item]
        numbers = []
        for item in items:
            if not item.isdigit():
                raise forms.ValidationError(f"{item!r} is not a whole percentage; write e.g. 50, 80, 100.")
            numbers.append(int(item))
        return numbers


class LinesField(forms.CharField):
    """One item per line (blank lines ignored): e-mail addresses or webhook URLs."""

    widget = forms.Textarea(attrs={"rows": 3, "cols": 60})

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value) -> list[str]:  # type: ignore[override]
        text = super().to_python(value) or ""
        if text.lstrip().startswith("["):  # a JSON list, as the form took before: still accepted
            try:
                items = json.loads(text)
            except ValueError:
                raise forms.ValidationError("Write one per line (or a JSON list of strings).") from None
            if isinstance(items, list) and all(isinstance(item, str) for item in items):
                return [item.strip() for item in items if item.strip()]
            raise forms.ValidationError("Write one per line (or a JSON list of strings).")
        return [line.strip() for line in text.splitlines() if line.strip()]


class AmountField(forms.DecimalField):
    """USD with optional thousands separators: "1,250,000.00"; shown the same way."""

    def __init__(self, **kwargs) -> None:
        super().__init__(max_digits=12, decimal_places=2, widget=forms.TextInput(attrs={"inputmode": "decimal"}),
                         **kwargs)  # fmt: skip

    def prepare_value(self, value):
        if isinstance(value, Decimal):
            return f"{value:,.2f}"
        return value

    def to_python(self, value):
        if isinstance(value, str):
            value = value.replace(",", "").replace(" ", "").removeprefix("$")
        try:
            return super().to_python(value)
        except forms.ValidationError:
            raise
        except InvalidOperation:  # pragma: no cover - DecimalField raises ValidationError itself
            raise forms.ValidationError("Enter an amount, e.g. 25,000.00.") from None


class BudgetForm(forms.ModelForm):
    amount_usd = AmountField(label="Amount (USD)", help_text="Per month or quarter, e.g. 25,000.00.")
    thresholds = CommaListField(
        label="Alert at (% of the amount)", help_text="Whole percentages separated by commas, e.g. 50, 80, 100."
    )
    emails = LinesField(label="E-mail addresses", required=False, help_text="One address per line.")
    webhook_urls = LinesField(label="Webhook URLs", required=False, help_text="One https:// URL per line.")

    class Meta:
        model = Budget
        fields = ["team", "amount_usd", "period", "thresholds", "emails", "webhook_urls", "run_rate_days",
                  "min_efficiency_pct", "efficiency_days", "active"]  # fmt: skip
        labels = {"run_rate_days": "Run-rate window (days)", "min_efficiency_pct": "Alert under GPU efficiency (%)",
                  "efficiency_days": "Efficiency window (full days)"}  # fmt: skip
        help_texts = {"min_efficiency_pct": "1-100; empty: no efficiency alert. Unmeasured jobs never alert."}
