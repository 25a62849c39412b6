"""Demo data: a realistic ML organisation, deterministic for a given seed and as-of day."""

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from costs.billing.models import CostSnapshot
from costs.billing.money import to_cents
from costs.budgets.models import Budget
from costs.catalog.models import GpuPrice, InstanceType, ModelPrice, PriceRefresh
from costs.catalog.services.gpu_prices import prices_refresh
from costs.catalog.services.model_prices import model_prices_refresh
from costs.llm.models import LlmCall, LlmUsageSnapshot
from costs.llm.services.ingest import llm_calls_store
from costs.usage.models import UsageSnapshot
from costs.usage.services.allocation import allocation_refresh
from costs.usage.services.rollup import usage_rollup
from heliox.dates import utc_day_bounds
from jobs.models import Job, JobStatus, Pricing, UtilSource
from teams.models import Membership, Team

DEMO_EMAIL_DOMAIN = "heliox.demo"
# Internal chargeback rate for the on-prem H100 cluster; on-prem A100s have none,
# so the demo shows unpriced jobs as well.
ON_PREM_RATE = Decimal("2.1000")


@dataclass(frozen=True)
class Profile:
    """How one team uses GPUs: where, on what, which models, how big and how long."""

    name: str
    description: str
    fleet: tuple[tuple[str, str, int], ...]  # (provider, gpu_type, weight)
    models: tuple[str, ...]
    gpu_counts: tuple[int, ...]
    mean_hours: float
    jobs_per_day: int
    util_mean: float = 60.0  # typical GPU utilisation of the team's jobs, percent


PROFILES = (
    Profile(
        "llm-research",
        "Pre-training and fine-tuning of large language models.",
        (("aws", "H100", 5), ("lambda", "H100", 4), ("coreweave", "H100", 3), ("gcp", "A100-80GB", 2)),
        ("llama-3-70b-ft", "mixtral-8x7b-sft", "llama-3-8b-dpo", "reward-model-v3"),
        (8, 8, 8, 4),
        9.0,
        35,
        72.0,
    ),
    Profile(
        "vision",
        "Image and video models: detection, segmentation, diffusion.",
        (("gcp", "A100", 4), ("azure", "A100-80GB", 3), ("aws", "A10G", 2), ("lambda", "A100", 2)),
        ("vit-l-16", "sam-2-large", "sdxl-finetune", "yolov9-e"),
        (1, 2, 4, 8),
        5.0,
        52,
        55.0,
    ),
    Profile(
        "speech",
        "Speech recognition and text-to-speech.",
        (("aws", "A10G", 4), ("aws", "T4", 3), ("azure", "T4", 2)),
        ("whisper-large-v3", "tts-vits-multi", "wav2vec2-xl"),
        (1, 1, 2, 4),
        3.0,
        46,
        38.0,
    ),
    Profile(
        "recsys",
        "Ranking and recommendation models.",
        (("gcp", "T4", 4), ("gcp", "L4", 4), ("aws", "L4", 2)),
        ("dlrm-v2", "two-tower-retrieval", "din-ranker"),
        (1, 2, 4),
        2.5,
        58,
        45.0,
    ),
    Profile(
        "inference-platform",
        "Online inference and batch scoring for every product team.",
        (("aws", "L4", 4), ("aws", "A10G", 3), ("gcp", "L4", 3), ("coreweave", "A100-80GB", 2)),
        ("llama-3-8b-instruct", "embedding-e5-large", "whisper-serve", "sdxl-serve"),
        (1, 1, 2, 4),
        6.0,
        40,
        30.0,
    ),
    Profile(
        "robotics",
        "Policy learning on the on-prem Slurm cluster.",
        (("on-prem", "H100", 3), ("on-prem", "A100", 2), ("azure", "V100", 1)),
        ("diffusion-policy", "rt-2-finetune", "world-model-v1"),
        (1, 2, 4, 8),
        7.0,
        26,
        64.0,
    ),
)


@dataclass
class DemoSummary:
    teams: int = 0
    jobs: int = 0
    running: int = 0
    bills: int = 0
    days: int = 0


def demo_data_exists() -> bool:
    return Team.objects.exists() or Job.objects.exists() or CostSnapshot.objects.exists()


def demo_reset() -> None:
    """Delete every team (with its jobs and rollups), bill, price and the demo users."""
    with transaction.atomic():
        Team.objects.all().delete()
        for model in (CostSnapshot, UsageSnapshot, GpuPrice, InstanceType, PriceRefresh, ModelPrice, LlmCall,
                      LlmUsageSnapshot):  # fmt: skip
            model.objects.all().delete()
        get_user_model().objects.filter(email__endswith=f"@{DEMO_EMAIL_DOMAIN}").delete()


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _job(rng: random.Random, team: Team, profile: Profile, day_start: datetime, now: datetime) -> Job | None:
    provider, gpu_type = rng.choices([(p, g) for p, g, _ in profile.fleet], weights=[w for *_, w in profile.fleet])[0]
    start = day_start + timedelta(seconds=rng.randrange(86_400))
    if start >= now:
        return None
    hours = min(rng.lognormvariate(0, 0.9) * profile.mean_hours / 1.5, 96)
    end: datetime | None = start + timedelta(seconds=max(300, int(hours * 3600)))
    roll = rng.random()
    status = JobStatus.SUCCEEDED if roll < 0.82 else JobStatus.FAILED if roll < 0.93 else JobStatus.CANCELLED
    if status != JobStatus.SUCCEEDED:
        end = start + (end - start) * rng.uniform(0.05, 0.9)  # type: ignore[operator]
    if end > now:  # type: ignore[operator]
        status, end = JobStatus.RUNNING, None
    job_id = _uuid(rng)
    job = Job(
        id=job_id,
        team=team,
        model_name=rng.choice(profile.models),
        provider=provider,
        gpu_type=gpu_type,
        gpu_count=rng.choice(profile.gpu_counts),
        region="slurm-a" if provider == "on-prem" else "",
        pricing=Pricing.SPOT if provider == "aws" and rng.random() < 0.15 else Pricing.ON_DEMAND,
        start_time=start.replace(microsecond=0),
        end_time=end.replace(microsecond=0) if end else None,
        status=status,
        external_id=f"demo-{team.name}-{rng.getrandbits(40):010x}",
        metadata={"demo": True},
        labels=_labels(job_id, team),
    )
    _utilisation(job, profile)
    return job


def _utilisation(job: Job, profile: Profile) -> None:
    """Most jobs measured (DCGM on the clouds' Kubernetes, Slurm's TRES on-prem), one in seven not.

    Drawn from the job's own id, so that the main sequence of the demo (and every figure
    that tests pin) does not move.
    """
    rng = random.Random(job.id.int)  # noqa: S311 - reproducible demo data
    if rng.random() < 1 / 7:
        return
    util = min(max(rng.gauss(profile.util_mean, 18), 3), 99)
    job.gpu_util_avg = Decimal(str(round(util, 2)))
    job.gpu_mem_peak_gib = Decimal(str(round(rng.uniform(0.3, 0.95) * 80, 3)))
    job.gpu_util_source = UtilSource.SLURM if job.provider == "on-prem" else UtilSource.DCGM


DEMO_PROJECTS = ("core", "eval", "research", "serving")


def _labels(job_id: uuid.UUID, team: Team) -> dict[str, str]:
    """Project, user and cost centre labels, from the job's id (the seeded sequence stays the same without them).

    About one job in ten has no project, so that "(unlabelled)" shows too.
    """
    pick = random.Random(job_id.int)  # noqa: S311 - demo data, not secrets
    labels = {"user": f"{team.name}-{pick.choice(('lead', 'scheduler'))}", "cost_center": f"cc-{team.name}"}
    if pick.random() < 0.9:
        labels["project"] = f"{team.name}-{pick.choice(DEMO_PROJECTS)}"
    return labels


def demo_seed(
    *, seed: int = 42, days: int = 90, as_of: date | None = None, progress: Callable[[int], None] | None = None
) -> DemoSummary:
    """Create the demo organisation for the `days` UTC days up to and including `as_of`, in one transaction."""
    rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not secrets
    now = timezone.now().replace(microsecond=0)
    as_of = as_of or now.date()
    now = min(now, utc_day_bounds(as_of)[1])
    first = as_of - timedelta(days=days - 1)
    summary = DemoSummary(days=days)
    with transaction.atomic():
        _catalog(now)
        teams = _teams(rng)
        summary.teams = len(teams)
        for offset in range(days):
            batch = _jobs_of_day(rng, teams, first + timedelta(days=offset), load=_load(first, offset, days), now=now)
            Job.objects.bulk_create(batch, batch_size=2000)
            summary.jobs += len(batch)
            summary.running += sum(1 for job in batch if job.end_time is None)
            if progress:
                progress(1)
        _llm_calls(rng, [team for team, _ in teams], first, days, now)
        usage_rollup(start=first, end=as_of + timedelta(days=1), now=now)
        summary.bills = _bill(rng, first, as_of)
        allocation_refresh(days=[first + timedelta(days=n) for n in range(days)])
        _budgets(rng, [team for team, _ in teams], as_of)
    return summary


@transaction.atomic
def demo_load(
    *,
    reset: bool = False,
    seed: int = 42,
    days: int = 90,
    as_of: date | None = None,
    progress: Callable[[int], None] | None = None,
) -> DemoSummary:
    """Reset (with `reset`) and seed in one transaction: a seed that fails leaves the data as it was."""
    if reset:
        demo_reset()
    return demo_seed(seed=seed, days=days, as_of=as_of, progress=progress)


def _load(first: date, offset: int, days: int) -> float:
    """Weekends are quieter; a slow ramp-up over the period shows a trend."""
    weekday = (first + timedelta(days=offset)).weekday()
    return (0.55 if weekday >= 5 else 1.0) * (0.75 + 0.5 * offset / days)


def _catalog(now: datetime) -> None:
    """The shipped GPU and LLM catalogs, an internal on-prem H100 rate and AWS spot prices."""
    prices_refresh(now=now)
    model_prices_refresh(now=now)
    GpuPrice.objects.get_or_create(
        provider="on-prem", gpu_type="H100", region="", pricing=Pricing.ON_DEMAND,
        effective_from=datetime(2024, 1, 1, tzinfo=UTC),
        defaults={"usd_per_gpu_hour": ON_PREM_RATE, "source": "internal chargeback rate (demo)"},
    )  # fmt: skip
    # Spot at roughly 40 % of on-demand on AWS, as AWS spot typically is.
    for price in GpuPrice.objects.filter(provider="aws", pricing=Pricing.ON_DEMAND, region=""):
        GpuPrice.objects.get_or_create(
            provider="aws", gpu_type=price.gpu_type, region="", pricing=Pricing.SPOT,
            effective_from=price.effective_from,
            defaults={"usd_per_gpu_hour": (price.usd_per_gpu_hour * Decimal("0.4")).quantize(Decimal("0.0001")),
                      "source": "demo spot price: 40% of on-demand"},
        )  # fmt: skip


def _teams(rng: random.Random) -> list[tuple[Team, Profile]]:
    """A team per profile, each with a lead (manager) and a scheduler account (member), no password."""
    users = get_user_model().objects
    teams = []
    for profile in PROFILES:
        team = Team.objects.create(id=_uuid(rng), name=profile.name, description=profile.description)
        teams.append((team, profile))
        for role, who in ((Membership.Role.MANAGER, "lead"), (Membership.Role.MEMBER, "scheduler")):
            user = users.create_user(
                username=f"{profile.name}-{who}", email=f"{profile.name}-{who}@{DEMO_EMAIL_DOMAIN}"
            )
            user.set_unusable_password()
            user.save(update_fields=["password"])
            Membership.objects.create(id=_uuid(rng), user=user, team=team, role=role)
    return teams


def _jobs_of_day(rng: random.Random, teams: list, day: date, *, load: float, now: datetime) -> list[Job]:
    day_start = utc_day_bounds(day)[0]
    batch = []
    for team, profile in teams:
        for _ in range(round(profile.jobs_per_day * load * rng.uniform(0.8, 1.2))):
            job = _job(rng, team, profile, day_start, now)
            if job:
                batch.append(job)
    return batch


def _bill(rng: random.Random, first: date, as_of: date) -> int:
    """Daily cloud bills near the jobs' estimates: some reserved capacity sits idle, some days are discounted.

    Bills lag a day (today has none yet) and the on-prem cluster sends no bill.
    """
    estimates: dict[tuple, Decimal] = {}
    for row in UsageSnapshot.objects.filter(date__gte=first, date__lt=as_of).exclude(provider="on-prem"):
        key = (row.date, row.provider, row.gpu_type)
        estimates[key] = estimates.get(key, Decimal(0)) + row.estimated_cost_usd
    bills = [
        CostSnapshot(
            id=_uuid(rng),
            date=day,
            provider=provider,
            gpu_type=gpu_type,
            cost_usd=to_cents(estimate * Decimal(str(round(rng.uniform(0.97, 1.30), 3)))),
        )
        for (day, provider, gpu_type), estimate in sorted(estimates.items())
        if estimate > 0
    ]
    CostSnapshot.objects.bulk_create(bills, batch_size=2000)
    return len(bills)


def _budgets(rng: random.Random, teams: list[Team], as_of: date) -> None:
    """A monthly budget per team around its recent monthly spend: some comfortable, some over."""
    recent = dict(
        UsageSnapshot.objects.filter(date__gt=as_of - timedelta(days=30), date__lte=as_of)
        .values_list("team__name")
        .annotate(total=Sum("allocated_usd"))
    )
    for team in teams:
        monthly = Decimal(recent.get(team.name) or 0)
        if monthly <= 0:
            continue
        Budget.objects.create(
            id=_uuid(rng),
            team=team,
            amount_usd=to_cents(monthly * Decimal(str(rng.choice([0.8, 0.95, 1.1, 1.3, 1.6])))),
            period=Budget.Period.MONTHLY,
            emails=[f"{team.name}-lead@{DEMO_EMAIL_DOMAIN}"],
        )


LLM_MODELS = (("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), ("anthropic", "claude-3-5-sonnet"),
              ("google", "gemini-1.5-flash"), ("vllm", "llama-3-8b-instruct"))  # fmt: skip


def _llm_calls(rng: random.Random, teams: list[Team], first: date, days: int, now: datetime) -> None:
    """A few hundred hosted-model calls a day from the product-facing teams (self-hosted vLLM is unpriced)."""
    callers = [team for team in teams if team.name in ("inference-platform", "llm-research", "recsys")]
    for offset in range(days):
        day_start = datetime.combine(first + timedelta(days=offset), time.min, tzinfo=UTC)
        calls = []
        for _ in range(rng.randint(150, 300)):
            created = day_start + timedelta(seconds=rng.randrange(86_400))
            if created >= now:
                continue
            provider, model = rng.choice(LLM_MODELS)
            prompt = rng.randint(200, 12_000)
            calls.append(LlmCall(
                id=_uuid(rng), team=rng.choice(callers), provider=provider, model=model,
                session_id=f"s-{rng.getrandbits(32):08x}", node_name=rng.choice(["retrieve", "answer", "rerank"]),
                input_tokens=prompt, cached_input_tokens=rng.choice([0, 0, prompt // 2]),
                output_tokens=rng.randint(50, 1500), latency_ms=rng.randint(200, 9000), created_at=created,
            ))  # fmt: skip
        llm_calls_store(calls)
