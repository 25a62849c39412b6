"""Abstract models shared by every Heliox table."""

import copy
import uuid

from django.db import models


class BaseModel(models.Model):
    """UUID primary key plus creation and modification times (aware, UTC).

    UUIDs rather than integers so that ids can be handed out by schedulers and
    merged across installations without collisions.
    """

    id = models.UUIDField(
        primary_key=True, default=uuid.uuid4, editable=False, db_comment="Random UUID (v4) primary key."
    )
    created_at = models.DateTimeField(auto_now_add=True, db_comment="When the row was created (UTC).")
    updated_at = models.DateTimeField(auto_now=True, db_comment="When the row was last modified (UTC).")

    class Meta:
        abstract = True


class NullsLastIndex(models.Index):
    """An index of OrderBy expressions that place nulls as written (`F("x").desc(nulls_last=True)`).

    PostgreSQL serves an ORDER BY from an index only when both place nulls alike. SQLite refuses
    NULLS FIRST/LAST in an index, and needs none: its nulls are the smallest values, so DESC puts them last
    and ASC first, as PostgreSQL's DESC NULLS LAST and ASC NULLS FIRST do.
    """

    def create_sql(self, model, schema_editor, using="", **kwargs):
        if schema_editor.connection.vendor == "postgresql":
            return super().create_sql(model, schema_editor, using=using, **kwargs)
        plain = copy.deepcopy(self)
        for expression in plain.expressions:
            if isinstance(expression, models.OrderBy):
                expression.nulls_first = expression.nulls_last = None
        return super(NullsLastIndex, plain).create_sql(model, schema_editor, using=using, **kwargs)
