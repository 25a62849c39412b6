"""The Heliox project. Loading it loads the Celery app, so that @shared_task binds to it in every process."""

from heliox.celery import app as celery_app

__all__ = ["celery_app"]
