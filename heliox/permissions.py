"""Who may do what: the one place where staff power is decided.

Staff status opens the door (as in the admin); Django's model permissions say what is behind
it: `view_<model>` to see every team's rows, `add_`/`change_`/`delete_` to write them.
Superusers hold every permission. Everyone else, staff or not, is a team member: they see
their own teams' rows and write what their role allows (see heliox.api).
"""

from django.db.models import Model

# The permission a request needs, by DRF viewset action, then by HTTP method (custom actions).
ACTION_PERMISSION = {"list": "view", "retrieve": "view", "create": "add", "update": "change",
                     "partial_update": "change", "destroy": "delete"}  # fmt: skip
METHOD_PERMISSION = {"GET": "view", "HEAD": "view", "OPTIONS": "view", "POST": "change", "PUT": "change",
                     "PATCH": "change", "DELETE": "delete"}  # fmt: skip

# Organisation-wide spend (every team's figures, the bill, idle capacity): the dashboard, its
# CSV exports and the aggregate API endpoints without team scoping.
ORGANISATION_SPEND = ("costs.view_usagesnapshot", "costs.view_costsnapshot")


def staff_can(user, action: str, model: type[Model]) -> bool:
    """Active staff holding `<app>.<action>_<model>`; `change` also grants `view`, as in the admin."""
    if not (user and user.is_authenticated and user.is_active and user.is_staff):
        return False
    opts = model._meta
    if user.has_perm(f"{opts.app_label}.{action}_{opts.model_name}"):
        return True
    return action == "view" and user.has_perm(f"{opts.app_label}.change_{opts.model_name}")


def sees_organisation_spend(user) -> bool:
    """Staff who may view the rollups and the bill see every team's spend, the bill and idle cost."""
    return bool(user and user.is_authenticated and user.is_active and user.is_staff) and user.has_perms(
        ORGANISATION_SPEND
    )


def permission_for(request, view=None) -> str:
    """`view`, `add`, `change` or `delete`: what this request does to the view's model."""
    action = getattr(view, "action", None)
    if action in ACTION_PERMISSION:
        return ACTION_PERMISSION[action]
    return METHOD_PERMISSION.get(request.method, "change")
