"""Ingesting LLM calls: validate a batch as a whole, price each call at its time, store it once."""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID

from django.db import IntegrityError, transaction
from django.utils import timezone

from costs.models import PICO, IdempotencyKey, LlmCall
from costs.services.model_prices import ModelPriceBook, call_cost_picousd
from heliox.errors import InputError
from teams.models import Team

MAX_BATCH = 1000
INT_FIELDS = ("input_tokens", "output_tokens", "cached_input_tokens", "latency_ms")
TEXT_FIELDS = {"provider": 64, "model": 200, "session_id": 200, "node_name": 200}


@dataclass
class IngestResult:
    stored: int
    unpriced: int
    cost_usd: Decimal

    def __add__(self, other: "IngestResult") -> "IngestResult":
        return IngestResult(self.stored + other.stored, self.unpriced + other.unpriced, self.cost_usd + other.cost_usd)

    def as_dict(self) -> dict:
        return {"stored": self.stored, "unpriced": self.unpriced, "cost_usd": str(self.cost_usd)}


class CallValidator:
    """Validates raw call dicts; errors name the item (API) or line (file) and the field."""

    def __init__(self, *, allowed_team_ids: Collection[UUID] | None, path: str = "", where: str = "item") -> None:
        self.allowed, self.path, self.where = allowed_team_ids, path, where
        self.teams = {str(pk): pk for pk in Team.objects.values_list("pk", flat=True)}
        self.teams.update(dict(Team.objects.values_list("name", "pk")))

    def fail(self, index: int, field: str, message: str, value=None):
        if self.path:
            raise InputError(message, path=self.path, line=index, field=field, value=value)
        raise InputError(f"{self.where} {index}, {field}: {message}" + (f" (got {value!r})" if value is not None
                                                                           else ""))  # fmt: skip

    def __call__(self, index: int, raw) -> LlmCall:
        if not isinstance(raw, dict):
            self.fail(index, "item", "must be a JSON object")
        team = self.teams.get(str(raw.get("team", "")))
        if team is None or (self.allowed is not None and team not in self.allowed):
            self.fail(index, "team", "unknown team (or not one of yours)", raw.get("team"))
        values = {}
        for field, limit in TEXT_FIELDS.items():
            value = raw.get(field, "")
            if not isinstance(value, str) or len(value) > limit:
                self.fail(index, field, f"must be text of at most {limit} characters", value)
            if field in ("provider", "model") and not value.strip():
                self.fail(index, field, "is required")
            values[field] = value.strip()
        for field in INT_FIELDS:
            value = raw.get(field)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0
                                      or value > 2**62):  # fmt: skip
                self.fail(index, field, "must be a whole number >= 0 (or null)", value)
            values[field] = value
        created = raw.get("created_at")
        if created is None:
            moment = timezone.now()
        else:
            try:
                moment = datetime.fromisoformat(str(created).replace("Z", "+00:00"))
            except ValueError:
                self.fail(index, "created_at", "not an ISO 8601 date-time", created)
            moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        metadata = raw.get("metadata") or {}
        if not isinstance(metadata, dict):
            self.fail(index, "metadata", "must be a JSON object", metadata)
        return LlmCall(team_id=team, created_at=moment, metadata=metadata, **values)


def llm_calls_store(calls: list[LlmCall]) -> IngestResult:
    """Price each call at its own time (unknown models stay unpriced, never $0) and store them all."""
    book = ModelPriceBook({(call.provider, call.model) for call in calls})
    unpriced, total = 0, 0
    for call in calls:
        price = book.at(call.provider, call.model, call.created_at)
        if price is None:
            call.cost_picousd = None
            unpriced += 1
            continue
        call.cost_picousd = call_cost_picousd(
            price, input_tokens=call.input_tokens or 0, output_tokens=call.output_tokens or 0,
            cached_input_tokens=call.cached_input_tokens or 0,
        )  # fmt: skip
        total += call.cost_picousd
    if calls:
        LlmCall.objects.bulk_create(calls, batch_size=1000)
    return IngestResult(stored=len(calls), unpriced=unpriced, cost_usd=Decimal(total) / PICO)


def llm_calls_ingest(*, payload, user, allowed_team_ids, idempotency_key: str = "") -> tuple[dict, int, bool]:
    """The API's batch ingest: all or nothing, at most MAX_BATCH calls, once per Idempotency-Key.

    Returns (body, status, replayed).
    """
    items = payload if isinstance(payload, list) else [payload]
    if not items or len(items) > MAX_BATCH:
        raise InputError(f"send 1 to {MAX_BATCH} calls per request, got {len(items)}")
    validate = CallValidator(allowed_team_ids=allowed_team_ids)
    calls = [validate(index, item) for index, item in enumerate(items)]
    with transaction.atomic():
        if idempotency_key:
            try:
                with transaction.atomic():
                    record = IdempotencyKey.objects.create(key=idempotency_key, user=user, response={}, status_code=0)
            except IntegrityError:
                previous = IdempotencyKey.objects.get(key=idempotency_key, user=user)
                return previous.response, previous.status_code, True
        body = llm_calls_store(calls).as_dict()
        if idempotency_key:
            record.response, record.status_code = body, 201
            record.save(update_fields=["response", "status_code", "updated_at"])
    return body, 201, False
