from teams.api.permissions import TeamRolePermission


class BudgetPermission(TeamRolePermission):
    """Members read their teams' budgets; managers of the budget's team and staff with the permission write them."""
