"""OpenAPI schemas of the aggregate answers: money and hours are decimal strings, unknown money is null.

In another currency (`currency=ZAR`) the money keys end in the currency's code
(`allocated_zar`): the rows allow further decimal-string keys for that reason.
"""

from heliox.schema import DATE, INTEGER, STRING, decimal, obj

FIGURES = {
    "gpu_hours": decimal(description="GPU-hours."),
    "unpriced_gpu_hours": decimal(description="GPU-hours without a catalog price."),
    "estimated_usd": decimal(
        nullable=True, description="Catalog cost of the priced GPU-hours; null when none is priced (unknown, not 0)."
    ),
    "allocated_usd": decimal(
        nullable=True,
        description="Share of the bill (the estimate on days without a bill); null when no GPU-hour is priced and "
        "idle is kept apart (it follows the estimate).",
    ),
    "idle_usd": decimal(nullable=True, description="Bill nobody used; null when not yours to see."),
    "billed_usd": decimal(nullable=True, description="The bill; null where there is none (unknown, not 0)."),
    "used_gpu_hours": decimal(
        nullable=True, description="GPU-hours x utilisation of the measured jobs; null when none is measured."
    ),
    "unmeasured_gpu_hours": decimal(description="GPU-hours of jobs without utilisation (counted apart)."),
    "measured_gpu_hours": decimal(description="GPU-hours of jobs with utilisation (efficiency's denominator)."),
    "waste_usd": decimal(
        nullable=True, description="Estimated cost x (1 - utilisation) of measured jobs; null when none is measured."
    ),
    "allocated_waste_usd": decimal(
        nullable=True,
        description="The share of the bill paid for idle GPUs: allocated x (1 - utilisation) of measured jobs (idle "
        "kept apart or shared, as `idle` says); waste on days without a bill; null when none is measured.",
    ),
    "efficiency_pct": decimal(
        nullable=True, description="Used / measured GPU-hours, percent; null when none is measured (unknown, never 0)."
    ),
    "llm_usd": decimal(description="LLM API spend (kind=llm or all)."),
    "total_usd": decimal(nullable=True, description="GPU + LLM spend (kind=llm or all); null when only unpriced."),
    "llm_calls": INTEGER,
    "llm_unpriced_calls": INTEGER,
}
GROUPS = dict.fromkeys(("team", "provider", "gpu_type", "model_name"), STRING)
# A money key in another currency (allocated_zar): a decimal string or null; or a label group's value (label:project).
CONVERTED = {"type": "string", "nullable": True, "description": "Money in the requested currency (a decimal string; "
             "key ends in its code), or the value of a label group (key label:<key>)."}  # fmt: skip
ROW = obj({**GROUPS, **FIGURES}, extra=CONVERTED, description="One group (or the totals).")
FX_RATES = {"type": "array", "items": obj({"currency": STRING, "rate_per_usd": decimal(), "as_of": DATE},
                                          required=("currency", "rate_per_usd", "as_of"))}  # fmt: skip

UNBILLED = {
    "type": "array",
    "nullable": True,
    "description": "Providers billed on some days of the range and not yet on others (days with usage and no bill "
    "for a GPU type used): their billed and idle figures are the billed days' only. Null when the bill is not shown "
    "(a member's teams, a model or label filter, kind=llm).",
    "items": obj({"provider": STRING, "days": INTEGER, "usage_days": INTEGER, "first": DATE},
                 required=("provider", "days", "usage_days", "first")),
}  # fmt: skip
SUMMARY = obj(
    {"start": DATE, "end": DATE, "group_by": {"type": "array", "items": STRING}, "idle": STRING, "kind": STRING,
     "currency": STRING, "fx_rates": FX_RATES, "rows": {"type": "array", "items": ROW}, "totals": ROW,
     "unbilled": UNBILLED},
    required=("start", "end", "group_by", "idle", "kind", "currency", "fx_rates", "rows", "totals", "unbilled"),
)  # fmt: skip

POINT = obj({"period": DATE, **FIGURES}, required=("period",), extra=CONVERTED)
TIMESERIES = obj(
    {"start": DATE, "end": DATE, "interval": STRING, "currency": STRING, "fx_rates": FX_RATES,
     "periods": {"type": "array", "items": DATE},
     "series": {"type": "array", "items": obj(
         {"group": obj(GROUPS), "points": {"type": "array", "items": POINT}}, required=("group", "points"))},
     "totals": ROW},
    required=("start", "end", "interval", "currency", "fx_rates", "periods", "series", "totals"),
)  # fmt: skip

TEAM_SHARE = obj(
    {"team_id": {"type": "string", "format": "uuid"}, "team": STRING, "gpu_hours": decimal(),
     "estimated_usd": decimal(), "allocated_usd": decimal()},
    required=("team_id", "team", "gpu_hours", "estimated_usd", "allocated_usd"),
)  # fmt: skip
CELL = obj(
    {"date": DATE, "provider": STRING, "gpu_type": STRING, "billed_usd": decimal(nullable=True),
     "estimated_usd": decimal(), "gpu_hours": decimal(), "idle_usd": decimal(nullable=True),
     "teams": {"type": "array", "items": TEAM_SHARE}},
    required=("date", "provider", "gpu_type", "billed_usd", "estimated_usd", "gpu_hours", "idle_usd", "teams"),
)  # fmt: skip
ALLOCATION = obj({"start": DATE, "end": DATE, "idle": STRING, "cells": {"type": "array", "items": CELL}},
                 required=("start", "end", "idle", "cells"))  # fmt: skip

DAY = obj({"date": DATE, **{name: FIGURES[name] for name in ("gpu_hours", "unpriced_gpu_hours", "estimated_usd",
                                                              "allocated_usd")}},
          required=("date", "gpu_hours", "unpriced_gpu_hours", "estimated_usd", "allocated_usd"),
          description="One UTC day of the range (a day without usage: 0, known); a day whose GPU-hours are all "
          "unpriced has estimated_usd null, and allocated_usd null when it is 0.")  # fmt: skip
MODEL = obj({**{name: FIGURES[name] for name in ("gpu_hours", "unpriced_gpu_hours", "estimated_usd", "allocated_usd",
                                                 "unmeasured_gpu_hours", "efficiency_pct", "waste_usd",
                                                 "allocated_waste_usd")},
             "model_name": STRING},
            required=("model_name", "gpu_hours", "unpriced_gpu_hours", "estimated_usd", "allocated_usd"))  # fmt: skip
TEAM_SPEND = obj(
    {"team": obj({"id": {"type": "string", "format": "uuid"}, "name": STRING}, required=("id", "name")),
     "start": DATE, "end": DATE, "totals": ROW, "daily": {"type": "array", "items": DAY},
     "top_models": {"type": "array", "items": MODEL}},
    required=("team", "start", "end", "totals", "daily", "top_models"),
)  # fmt: skip

UUID = {"type": "string", "format": "uuid"}
SLICE = obj(
    {"date": DATE, "gpu_hours": decimal(), "unpriced_gpu_hours": decimal(),
     "price_usd_per_gpu_hour": decimal(nullable=True, description="Price used (average if it changed); null when "
                                       "unpriced."),
     "estimated_usd": decimal(nullable=True, description="Null when the day has no priced GPU-hour (unknown, not 0)."),
     "allocated_usd": decimal(nullable=True, description="Share of the bill, idle kept apart; null when no GPU-hour "
                              "of the day is priced and it is 0 (it follows the estimate)."),
     "allocated_shared_usd": decimal(nullable=True, description="Share of the bill, idle shared; null as "
                                     "allocated_usd."),
     "used_gpu_hours": decimal(nullable=True, description="GPU-hours x utilisation; null when unmeasured."),
     "measured_gpu_hours": decimal(), "unmeasured_gpu_hours": decimal(),
     "waste_usd": decimal(nullable=True, description="Estimated x (1 - utilisation); null when unmeasured or "
                          "when estimated_usd is null (unpriced)."),
     "allocated_waste_usd": decimal(nullable=True, description="Allocated (idle kept apart) x (1 - utilisation); "
                                    "null when unmeasured or when allocated_usd is null."),
     "allocated_shared_waste_usd": decimal(nullable=True, description="Allocated (idle shared) x (1 - utilisation); "
                                           "null when unmeasured or when allocated_shared_usd is null.")},
    required=("date", "gpu_hours", "unpriced_gpu_hours", "price_usd_per_gpu_hour", "estimated_usd", "allocated_usd",
              "allocated_shared_usd", "used_gpu_hours", "measured_gpu_hours", "unmeasured_gpu_hours", "waste_usd",
              "allocated_waste_usd", "allocated_shared_waste_usd"),
)  # fmt: skip
JOB_COSTS = obj(
    {"job": UUID, "team": STRING, "gpu_hours": decimal(nullable=True, description="Null until rolled up."),
     "estimated_usd": decimal(nullable=True, description="Null until rolled up or when no hour is priced."),
     "allocated_usd": decimal(nullable=True, description="Null until rolled up or when no hour is priced."),
     "unpriced_gpu_hours": decimal(nullable=True),
     "used_gpu_hours": decimal(nullable=True, description="Null until rolled up or when unmeasured."),
     "waste_usd": decimal(nullable=True, description="Null until rolled up, when unmeasured or unpriced."),
     "allocated_waste_usd": decimal(nullable=True, description="Allocated (idle kept apart) x (1 - utilisation); "
                                    "null until rolled up, when unmeasured or unpriced."),
     "gpu_util_avg": decimal(nullable=True, description="Average GPU utilisation, percent; null = unmeasured."),
     "days": {"type": "array", "items": SLICE}},
    required=("job", "team", "gpu_hours", "estimated_usd", "allocated_usd", "unpriced_gpu_hours", "used_gpu_hours",
              "waste_usd", "allocated_waste_usd", "gpu_util_avg", "days"),
)  # fmt: skip
TOP_JOB = obj(
    {"id": UUID, "team": STRING, "team_id": UUID, "model_name": STRING, "provider": STRING, "gpu_type": STRING,
     "gpu_count": INTEGER, "external_id": {"type": "string", "nullable": True},
     "start_time": {"type": "string", "format": "date-time", "nullable": True},
     "end_time": {"type": "string", "format": "date-time", "nullable": True},
     "labels": {"type": "object", "additionalProperties": STRING}, "days": INTEGER, "gpu_hours": decimal(),
     "unpriced_gpu_hours": decimal(),
     "estimated_usd": decimal(nullable=True, description="Null when no hour in the range is priced (unknown)."),
     "allocated_usd": decimal(nullable=True, description="Null when no hour in the range is priced (unknown)."),
     "used_gpu_hours": decimal(nullable=True, description="Null when the job is unmeasured."),
     "measured_gpu_hours": decimal(), "unmeasured_gpu_hours": decimal(),
     "efficiency_pct": decimal(nullable=True, description="Null when the job is unmeasured (unknown, never 0)."),
     "waste_usd": decimal(nullable=True, description="Null when the job is unmeasured or unpriced."),
     "allocated_waste_usd": decimal(nullable=True, description="Its allocated (by `idle`) x (1 - utilisation); null "
                                    "when the job is unmeasured.")},
)  # fmt: skip
TOP_JOBS = obj({"start": DATE, "end": DATE, "idle": STRING, "order": STRING,
                "jobs": {"type": "array", "items": TOP_JOB}},
               required=("start", "end", "idle", "order", "jobs"))  # fmt: skip
