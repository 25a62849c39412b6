from decimal import Decimal

import factory

from costs.budgets.models import Budget
from teams.tests.factories import TeamFactory


class BudgetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Budget

    team = factory.SubFactory(TeamFactory)
    amount_usd = Decimal("100.00")
    period = Budget.Period.MONTHLY
