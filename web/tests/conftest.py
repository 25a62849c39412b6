"""The member UI's roles on the `org` fixture: bob (nlp member), alice (nlp manager), a staff user without
permissions, a superuser; nlp's and vision's budgets."""

import pytest
from django.test import Client

from costs.budgets.tests.factories import BudgetFactory
from teams.tests.factories import UserFactory

RANGE = "start=2025-03-10&end=2025-03-11"
ROLES = ("member", "manager", "staff_no_perms", "superuser")


@pytest.fixture
def users(org, django_user_model):
    return {
        "member": org["users"]["bob"],
        "manager": org["users"]["alice"],
        "staff_no_perms": UserFactory(username="clerk", is_staff=True),
        "superuser": django_user_model.objects.create_superuser("root", "root@example.com", "correct-horse-battery"),
    }


@pytest.fixture
def budgets(org):
    return {
        "nlp": BudgetFactory(team=org["teams"]["nlp"], amount_usd="500.00"),
        "vision": BudgetFactory(team=org["teams"]["vision"], amount_usd="300.00"),
    }


@pytest.fixture
def as_role(users):
    """A client logged in as one of ROLES."""

    def login(role: str) -> Client:
        client = Client()
        client.force_login(users[role])
        return client

    return login
