from django.contrib.admin.apps import AdminConfig
from django.core.management import call_command
from django.db.models.signals import post_migrate


def create_cache_table(using: str = "default", verbosity: int = 1, **kwargs) -> None:
    """`migrate` also creates the database cache's table (when that is the cache), wherever it runs.

    The throttle counters live there; without the table every API request would fail.
    Does nothing when the table exists or the cache is Redis.
    """
    call_command("createcachetable", database=using, verbosity=max(0, verbosity - 1))


class HelioxAdminConfig(AdminConfig):
    """The Django admin with Heliox's site: the index is the spend dashboard."""

    default_site = "heliox.admin_site.HelioxAdminSite"

    def ready(self):
        super().ready()
        post_migrate.connect(create_cache_table, sender=self, dispatch_uid="heliox_create_cache_table")
        from simple_history.signals import pre_create_historical_record

        from heliox.audit import name_the_command

        pre_create_historical_record.connect(name_the_command, dispatch_uid="heliox_history_command")
