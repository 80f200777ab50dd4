"""What the admin page shows, computed from the answer log, the sync runs and the registry:
answers per day with their outcomes, the not-found rate, 👍/👎 per day, latency percentiles,
each source's last run, and nDCG@10 per embedder version with its promotions and rollbacks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np

from ..answers.log import AnswerStat, VoteStat
from ..learning.registry import EmbedderVersion, Switch
from ..sync.runs import Run
from .gaps import GapReport

PERCENTILES = (50, 90, 99)


@dataclass(frozen=True)
class Day:
    day: date
    found: int = 0
    not_found: int = 0
    up: int = 0
    down: int = 0
    p50: float | None = None  # seconds the asker waited, of that day's timed answers
    p90: float | None = None


@dataclass(frozen=True)
class EmbedderBar:
    version: str
    status: str
    dev_ndcg: float | None  # on the dev questions of the training run that made it
    parent_dev_ndcg: float | None  # what the serving model scored on the same questions
    events: list[str] = field(default_factory=list)  # "promoted 2026-12-01", "rolled back …"


@dataclass(frozen=True)
class Dashboard:
    since: datetime
    until: datetime
    days: list[Day]
    answers: int
    not_found: int
    up: int
    down: int
    latency: dict[str, float]  # "p50" → seconds, over the window
    sources: list[Run]  # each source's latest run
    embedders: list[EmbedderBar]
    serving: str | None
    gaps: GapReport | None
    gaps_error: str = ""  # why the gaps could not be computed (the rest is still shown)

    @property
    def not_found_rate(self) -> float:
        return self.not_found / self.answers if self.answers else 0.0


def _day(moment: datetime) -> date:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).date()


def daily(
    answers: Sequence[AnswerStat], votes: Sequence[VoteStat], since: datetime, until: datetime
) -> list[Day]:
    """One Day per calendar day (UTC) of the window, empty days included."""
    first, last = _day(since), _day(until)
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    found = {d: 0 for d in days}
    missed = {d: 0 for d in days}
    up = {d: 0 for d in days}
    down = {d: 0 for d in days}
    seconds: dict[date, list[float]] = {d: [] for d in days}
    for answer in answers:
        day = _day(answer.at)
        if day not in found:
            continue
        (found if answer.found else missed)[day] += 1
        if answer.seconds is not None:
            seconds[day].append(answer.seconds)
    for vote in votes:
        day = _day(vote.at)
        if day in up:
            (up if vote.label > 0 else down)[day] += 1
    result = []
    for d in days:
        timed = percentiles(seconds[d])
        result.append(
            Day(d, found[d], missed[d], up[d], down[d], timed.get("p50"), timed.get("p90"))
        )
    return result


def percentiles(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {}
    points = np.percentile(np.asarray(values, dtype=float), PERCENTILES)
    return {f"p{p}": round(float(v), 3) for p, v in zip(PERCENTILES, points, strict=True)}


def embedder_bars(
    versions: Sequence[EmbedderVersion], switches: Sequence[Switch]
) -> list[EmbedderBar]:
    """Every version that has been judged or has served, oldest first, with its switches."""
    events: dict[str, list[str]] = {}
    for switch in switches:
        word = "promoted" if switch.kind == "promote" else "rolled back to"
        events.setdefault(switch.to_version, []).append(f"{word} {switch.at:%Y-%m-%d}")
    bars = []
    for version in versions:
        gate = dict(version.metrics.get("gate", {}))
        dev = gate.get("candidate_dev", {}).get("ndcg")
        parent = gate.get("current_dev", {}).get("ndcg")
        if dev is None and version.version not in events and version.status != "base":
            continue
        bars.append(
            EmbedderBar(
                version.version,
                version.status,
                None if dev is None else float(dev),
                None if parent is None else float(parent),
                events.get(version.version, []),
            )
        )
    return bars


def latest_runs(runs: Sequence[Run]) -> list[Run]:
    """Each source's most recent run (`runs` newest first), by source name."""
    latest: dict[str, Run] = {}
    for run in runs:
        latest.setdefault(run.source, run)
    return [latest[name] for name in sorted(latest)]
