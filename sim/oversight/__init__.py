"""The multi-year oversight loop: detection, cases, reporting, audits, the CAC and the
behaviour they change, as SimPy processes at day resolution (see `sim.oversight.model`)."""

from sim.oversight.clock import cal
from sim.oversight.model import STREAMS, OversightModel, simulate_oversight
from sim.oversight.results import OversightResult, yearly_summary

__all__ = ["STREAMS", "OversightModel", "OversightResult", "cal", "simulate_oversight",
           "yearly_summary"]
