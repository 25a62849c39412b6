"""Ingesting LLM calls: validate a batch as a whole, price each call at its time, store it once."""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, NoReturn
from uuid import UUID

from django.db import IntegrityError, transaction
from django.utils import timezone

from costs.catalog.models import ModelPrice
from costs.catalog.selectors import ModelPriceBook
from costs.llm.models import PICO, IdempotencyKey, LlmCall
from heliox.errors import InputError
from heliox.validation import json_problem, text_problem
from teams.models import Team

MAX_BATCH = 1000
INT_FIELDS = ("input_tokens", "output_tokens", "cached_input_tokens", "latency_ms")
TEXT_FIELDS = {"provider": 64, "model": 200, "session_id": 200, "node_name": 200}
MAX_COUNT = 10**12  # tokens or milliseconds of one call; far past any real call, far within bigint
MAX_COST_PICOUSD = 2**63 - 1  # the cost column is a bigint of pico-USD: about $9.2 million per call


@dataclass
class IngestResult:
    stored: int
    unpriced: int
    cost_usd: Decimal

    def __add__(self, other: "IngestResult") -> "IngestResult":
        return IngestResult(self.stored + other.stored, self.unpriced + other.unpriced, self.cost_usd + other.cost_usd)

    @property
    def known_cost_usd(self) -> Decimal | None:
        """The cost of the priced calls; None (unknown, never $0) when calls were stored and none was priced."""
        return None if self.stored and self.unpriced == self.stored else self.cost_usd

    def as_dict(self) -> dict:
        cost = self.known_cost_usd
        return {"stored": self.stored, "unpriced": self.unpriced, "cost_usd": None if cost is None else str(cost)}


class CallValidator:
    """Validates raw call dicts; errors name the item (API) or line (file) and the field."""

    def __init__(self, *, allowed_team_ids: Collection[UUID] | None, path: str = "", where: str = "item") -> None:
        self.allowed, self.path, self.where = allowed_team_ids, path, where
        self.teams = {str(pk): pk for pk in Team.objects.values_list("pk", flat=True)}
        self.teams.update(dict(Team.objects.values_list("name", "pk")))

    def fail(self, index: int, field: str, message: str, value=None) -> NoReturn:
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
        values: dict[str, Any] = {}
        for field, limit in TEXT_FIELDS.items():
            value = raw.get(field, "")
            if not isinstance(value, str) or len(value) > limit:
                self.fail(index, field, f"must be text of at most {limit} characters", value)
            if text_problem(value):
                self.fail(index, field, text_problem(value))
            if field in ("provider", "model") and not value.strip():
                self.fail(index, field, "is required")
            values[field] = value.strip()
        for field in INT_FIELDS:
            value = raw.get(field)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or not 0 <= value <= MAX_COUNT):  # fmt: skip
                self.fail(index, field, f"must be a whole number from 0 to {MAX_COUNT:,} (or null)", value)
            values[field] = value
        metadata = raw.get("metadata") or {}
        if not isinstance(metadata, dict):
            self.fail(index, "metadata", "must be a JSON object", metadata)
        problem = json_problem(metadata)
        if problem:
            self.fail(index, ".".join(filter(None, ("metadata", problem[0]))), problem[1])
        assert team is not None
        call = LlmCall(team_id=team, created_at=self.instant(index, raw.get("created_at")), metadata=metadata,
                       **values)  # fmt: skip
        call.source_index = index  # type: ignore[attr-defined]  # where it came from, for errors found when priced
        return call

    def instant(self, index: int, created) -> datetime:
        if created is None:
            return timezone.now()
        try:
            moment = datetime.fromisoformat(str(created).replace("Z", "+00:00"))
        except ValueError:
            self.fail(index, "created_at", "not an ISO 8601 date-time", created)
        try:
            return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        except OverflowError:
            self.fail(index, "created_at", "out of range (year 1 to 9999, in UTC)", created)


def call_cost_picousd(price: ModelPrice, *, input_tokens: int, output_tokens: int, cached_input_tokens: int) -> int:
    """Exact cost in pico-USD: tokens x USD per 1M tokens x 10^6 (prices have 6 decimals, so this is an integer).

    Cached input tokens are part of input_tokens and billed at the cached price when the model has one.
    """
    cached = min(cached_input_tokens, input_tokens)
    cached_price = price.cached_input_usd_per_mtok if price.cached_input_usd_per_mtok is not None else (
        price.input_usd_per_mtok)  # fmt: skip
    usd_times_million = (
        (input_tokens - cached) * price.input_usd_per_mtok
        + cached * cached_price
        + output_tokens * price.output_usd_per_mtok
    )
    return int(usd_times_million * (PICO // 1_000_000))


def llm_calls_store(calls: list[LlmCall], *, fail=None) -> IngestResult:
    """Price each call at its own time (unknown models stay unpriced, never $0) and store them all.

    A call that would cost more than the column holds is refused through `fail(index, field, message)`
    (the validator's, so that the error names the item or line), or an InputError.
    """
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
        if call.cost_picousd > MAX_COST_PICOUSD:
            field = "output_tokens" if (call.output_tokens or 0) >= (call.input_tokens or 0) else "input_tokens"
            message = (
                f"the call would cost more than ${MAX_COST_PICOUSD // PICO:,} at {call.provider}/{call.model}'s price"
            )
            if fail is None:
                raise InputError(f"{field}: {message}")
            fail(getattr(call, "source_index", 0), field, message)
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
        body = llm_calls_store(calls, fail=validate.fail).as_dict()
        if idempotency_key:
            record.response, record.status_code = body, 201
            record.save(update_fields=["response", "status_code", "updated_at"])
    return body, 201, False
