"""OpenAPI schemas of the LLM call ingest: one call or a batch in, counts and cost out."""

from heliox.schema import INTEGER, STRING, decimal, obj

INGESTED = obj(
    {"stored": INTEGER, "unpriced": INTEGER,
     "cost_usd": decimal(nullable=True, description="Cost of the priced calls; null when no call was priced.")},
    required=("stored", "unpriced", "cost_usd"),
)  # fmt: skip

CALL = obj(
    {"team": {**STRING, "description": "Team id or name."}, "provider": STRING, "model": STRING,
     "session_id": STRING, "node_name": STRING, "input_tokens": {**INTEGER, "nullable": True},
     "output_tokens": {**INTEGER, "nullable": True}, "cached_input_tokens": {**INTEGER, "nullable": True},
     "latency_ms": {**INTEGER, "nullable": True}, "created_at": {"type": "string", "format": "date-time"},
     "metadata": {"type": "object"}},
    required=("team", "provider", "model"), extra=True,
)  # fmt: skip
LLM_CALLS = {"oneOf": [CALL, {"type": "array", "items": CALL, "minItems": 1, "maxItems": 1000}]}
