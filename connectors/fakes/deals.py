"""How the fake CRM's deals and leads play out: drivers, noise, stage by stage.

A generated opportunity is not drawn with its outcome: it lives. Its *quality* is a sum of drivers a CRM
and an ERP can see (channel, industry, amount against what the product usually costs, the customer's earlier
wins and orders, the rep's skill, the quarter it starts in) and of what they cannot (how much the customer
trusts us, the product, the account's level, luck: a normal draw as wide as the drivers together). Then it
walks the sales stages: at each stage it is either alive, and moves on after a few weeks (longer for big
deals), or dead, and stalls until the rep marks it lost. Its stage and the days spent in it therefore say
something about its chances, as in a real pipeline, but nothing lets a model read the outcome back exactly.
A lead converts (into an opportunity of its company's account) with a probability from its own drivers
(channel, whether it has an owner, a mobile number, a proper company name, an existing account) and noise.

Everything draws from the caller's `random.Random`, so a dataset stays deterministic for its seed.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

OPEN_STAGES = 4
"""Open stages, in order (the vendor names them); then won or lost."""
ALIVE_BASE = (1.3, 1.0, 1.05, 1.25)
"""Log-odds that a deal of average quality survives each open stage (about 35% of deals are won)."""
ALIVE_SLOPE = 0.6
"""How strongly quality moves each stage's odds."""
ADVANCE_DAYS = (8.0, 14.0, 18.0, 16.0)
"""Median days a live deal spends in each open stage (a 500k deal about 1.3 times as long as a 100k one)."""
STALL_DAYS = 38.0
"""Median days a dead deal stalls in its stage before it is marked lost."""
NOISE = 0.9
"""Standard deviation of the unseen part of a deal's quality."""

CHANNEL_EFFECT = {"转介绍": 0.8, "展会": 0.25, "官网": 0.05, "广告": -0.35, "电话营销": -0.55}
"""Referrals close best, cold calls worst."""
LEAD_CHANNEL_EFFECT = {"转介绍": 0.9, "展会": 0.3, "官网": 0.2, "广告": -0.4, "电话营销": -0.7}
LOST_REASONS = {
    "early": ("需求取消", "失去联系", "预算不足", "需求取消"),
    "late": ("价格过高", "竞争对手", "价格过高", "预算不足", "竞争对手"),
}


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def rep_skill(seed: int, rep_id: object) -> float:
    """A rep's lasting effect on every deal and lead (a normal draw, stable per rep)."""
    return random.Random(f"{seed}:skill:{rep_id}").gauss(0.0, 0.45)


def industry_effect(seed: int, industry: object) -> float:
    """Some industries buy more readily than others (stable per industry name)."""
    return random.Random(f"{seed}:industry:{industry}").uniform(-0.45, 0.45)


def season_effect(moment: datetime) -> float:
    """Deals begun in the fourth quarter meet year-end budgets; those begun before Chinese New Year stall."""
    return 0.3 if moment.month >= 10 else -0.2 if moment.month in (1, 2) else 0.0


def history_effect(earlier_wins: int, earlier_losses: int, orders: int) -> float:
    """A customer who bought before buys again; one who keeps saying no keeps saying no."""
    return 0.4 * min(earlier_wins, 3) + 0.12 * min(orders, 5) - 0.15 * min(earlier_losses, 3)


def amount_effect(amount: float, typical: float) -> float:
    """Deals far above what the product usually costs are harder to win."""
    return -0.45 * math.log(max(amount, 1.0) / typical)


@dataclass
class Deal:
    """One opportunity's life: the open stages it entered and when, then how it ended (or that it is open)."""

    created: datetime
    entered: list[datetime] = field(default_factory=list)  # entry into open stage 0, 1, …
    outcome: str = "open"  # won, lost or open at the end of the data
    closed: datetime | None = None
    lost_reason: str | None = None

    @property
    def stage(self) -> int:
        """The open stage reached (the last one entered)."""
        return len(self.entered) - 1

    @property
    def last_change(self) -> datetime:
        return self.closed or self.entered[-1]


def play_deal(rng: random.Random, created: datetime, quality: float, size: float, end: datetime) -> Deal:
    """Walk a deal of `quality` through the open stages from `created`; `size` (amount / 100k) slows it.
    Whatever would happen after `end` has not happened: the deal is open at the stage it reached by then."""
    deal = Deal(created, [created])
    moment = created
    slow = max(size, 0.05) ** 0.2
    for stage in range(OPEN_STAGES):
        alive = rng.random() < sigmoid(ALIVE_BASE[stage] + ALIVE_SLOPE * quality)
        median = ADVANCE_DAYS[stage] * slow if alive else STALL_DAYS
        moment += timedelta(days=max(0.5, rng.lognormvariate(math.log(median), 0.55)))
        if moment > end:
            return deal
        if not alive:
            deal.outcome, deal.closed = "lost", moment
            reasons = LOST_REASONS["early" if stage < 2 else "late"]
            deal.lost_reason = rng.choice(reasons) if rng.random() < 0.75 else None
            return deal
        if stage + 1 < OPEN_STAGES:
            deal.entered.append(moment)
    deal.outcome, deal.closed = "won", moment
    return deal


def lead_converts(rng: random.Random, quality: float) -> tuple[bool, float]:
    """Whether a lead of `quality` converts, and after how many days."""
    converts = rng.random() < sigmoid(-1.1 + 0.9 * quality)
    return converts, max(0.2, rng.lognormvariate(math.log(9.0), 0.8))
