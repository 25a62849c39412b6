from django.contrib.admin.apps import AdminConfig


class HelioxAdminConfig(AdminConfig):
    """The Django admin with Heliox's site: the index is the spend dashboard."""

    default_site = "heliox.admin_site.HelioxAdminSite"
