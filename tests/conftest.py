"""Shared fixtures: small scenarios that run in about a second."""

from __future__ import annotations

import pytest

from sim.config import parse_scenario


def small_scenario_dict(**overrides) -> dict:
    """Three small counties, few direct-connect terminals, ten minutes."""
    d = {
        "name": "small",
        "seed": 7,
        "horizon": {"start_hour": 16, "duration_s": 900, "warmup_s": 60},
        "topology": {
            "counties": ["Alpine", "Sierra", "Modoc", "Mono"],
            "devices": {"direct_connect_terminals": 2, "terminals_per_10k": 40, "mdts_per_10k": 60},
        },
    }
    for key, value in overrides.items():
        d[key] = value
    return d


@pytest.fixture
def small_scenario():
    return parse_scenario(small_scenario_dict())
