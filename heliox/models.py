"""Abstract models shared by every Heliox table."""

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
