"""Catalog tasks. Like every task: one call of a service, nothing more."""

from celery import shared_task

from costs.catalog.services.gpu_prices import prices_refresh
from costs.catalog.services.model_prices import model_prices_refresh
from ops.schedules import default_schedule


@shared_task(name="catalog.refresh_prices")
def refresh_prices() -> str:
    """`refresh_prices --if-stale`: reload the shipped GPU price catalog once PRICE_STALENESS_SECONDS old."""
    result = prices_refresh(if_stale=True)
    return result.skipped_reason or "refreshed"


@shared_task(name="catalog.refresh_model_prices")
def refresh_model_prices() -> str:
    """`refresh_model_prices --if-stale`: the same for the LLM per-token catalog (MODEL_PRICE_STALENESS_SECONDS)."""
    result = model_prices_refresh(if_stale=True)
    return result.skipped_reason or "refreshed"


default_schedule(
    name="Refresh GPU prices",
    task="catalog.refresh_prices",
    crontab="15 0 * * *",
    description="Daily at 00:15 UTC: refresh_prices --if-stale.",
)
default_schedule(
    name="Refresh LLM model prices",
    task="catalog.refresh_model_prices",
    crontab="20 0 * * *",
    description="Daily at 00:20 UTC: refresh_model_prices --if-stale.",
)
