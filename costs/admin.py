"""The admin of every costs domain: Django imports this module, which imports each domain's admin."""

from costs.billing import admin as billing_admin
from costs.budgets import admin as budgets_admin
from costs.catalog import admin as catalog_admin
from costs.llm import admin as llm_admin
from costs.usage import admin as usage_admin

__all__ = ["billing_admin", "budgets_admin", "catalog_admin", "llm_admin", "usage_admin"]
