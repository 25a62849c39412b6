from teams.api.permissions import TeamRolePermission


class JobPermission(TeamRolePermission):
    """Members register jobs (create, finish); managers also edit and delete them."""

    member_actions = ("create", "finish")
