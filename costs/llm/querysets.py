from heliox.querysets import DailyQuerySet


class LlmUsageQuerySet(DailyQuerySet):
    """The daily LLM rollup: between(start, end), for_teams(ids)."""
