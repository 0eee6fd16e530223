"""Calendar of the oversight loop: day 0 is the first simulated day (warm-up included)."""

from __future__ import annotations

from datetime import date, timedelta

from sim.world import EPOCH, day_number


def cal(day_abs: int) -> date:
    """The calendar date of a day number (days since 1970)."""
    return EPOCH + timedelta(days=int(day_abs))


class Clock:
    """Converts between loop days `k`, absolute day numbers and dates."""

    def __init__(self, first_day: int):
        self.first_day = first_day

    def k_of(self, d: date) -> int:
        return day_number(d) - self.first_day

    def date_of(self, k: int) -> date:
        return cal(self.first_day + k)

    def abs(self, k: int) -> int:
        return self.first_day + int(k)
