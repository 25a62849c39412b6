"""The budgets tests' fixtures (a team, a local webhook server), shared by their modules."""

from costs.budgets.tests.test_budgets import team, webhook  # noqa: F401 - pytest finds fixtures by name here
