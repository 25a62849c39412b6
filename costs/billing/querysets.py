from heliox.querysets import DailyQuerySet


class BillQuerySet(DailyQuerySet):
    """The daily bill: between(start, end)."""
