"""LLM call ingest and rollup on PostgreSQL.

    .venv/bin/python bench/bench_llm.py [--calls 1000000] [--batch 1000]

Posts `--calls` calls through POST /api/v1/llm-calls/ in batches of `--batch`
(in-process, DRF's test client, a staff token-less session), all on one UTC day, then
rolls that day up. Targets (issue #8): at least 5,000 calls/s; the daily rollup of
1,000,000 calls under 10 s.
"""

import argparse
import json
import random
import time
from datetime import UTC, date, datetime, timedelta

from common import peak_rss_mb, setup_django

MODELS = [("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), ("anthropic", "claude-3-5-sonnet"),
          ("google", "gemini-1.5-flash"), ("vllm", "local-llama")]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    setup_django()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from rest_framework.test import APIClient

    from costs.catalog.services.model_prices import model_prices_refresh
    from costs.llm.models import LlmCall, LlmUsageSnapshot
    from costs.usage.services.rollup import usage_rollup
    from teams.models import Team

    settings.ALLOWED_HOSTS = ["testserver"]
    settings.REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = []
    model_prices_refresh()
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {LlmCall._meta.db_table}")
    LlmUsageSnapshot.objects.all().delete()
    teams = [str(Team.objects.get_or_create(name=f"llm-team-{n}")[0].pk) for n in range(4)]
    # A superuser: staff without permissions would see only their own teams (none).
    user, _ = get_user_model().objects.update_or_create(
        username="bench-staff", defaults={"is_staff": True, "is_superuser": True}
    )
    client = APIClient()
    client.force_authenticate(user)
    rng = random.Random(7)
    day = datetime(2025, 6, 1, tzinfo=UTC)
    elapsed = 0.0
    for start in range(0, args.calls, args.batch):
        batch = []
        for _ in range(min(args.batch, args.calls - start)):
            provider, model = rng.choice(MODELS)
            batch.append({"team": rng.choice(teams), "provider": provider, "model": model,
                          "input_tokens": rng.randint(100, 8000), "cached_input_tokens": rng.choice([0, 50]),
                          "output_tokens": rng.randint(10, 800), "latency_ms": rng.randint(100, 5000),
                          "session_id": f"s{rng.getrandbits(24)}", "node_name": "answer",
                          "created_at": (day + timedelta(seconds=rng.randrange(86_400))).isoformat()})  # fmt: skip
        body = json.dumps(batch)  # made before the clock starts: only the request is timed
        started = time.perf_counter()
        response = client.post("/api/v1/llm-calls/", body, content_type="application/json")
        elapsed += time.perf_counter() - started
        assert response.status_code == 201, response.content[:300]
    print(f"ingest: {args.calls:,} calls in {elapsed:.1f} s = {args.calls / elapsed:,.0f} calls/s "
          f"(batches of {args.batch}); peak RSS {peak_rss_mb():.0f} MiB")  # fmt: skip
    started = time.perf_counter()
    summary = usage_rollup(start=date(2025, 6, 1), end=date(2025, 6, 2), now=datetime(2025, 6, 2, tzinfo=UTC))
    print(f"rollup of the day: {summary.llm_calls:,} calls, ${summary.llm_usd:,} in "
          f"{time.perf_counter() - started:.2f} s")  # fmt: skip


if __name__ == "__main__":
    main()
