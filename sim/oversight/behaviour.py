"""How people respond to oversight: deterrence of operators and retraining by agencies.

The misuse generator draws each archetype's potential misuse rows under its baseline
hazard. Day by day this module thins them: a potential row of operator o in agency a on
day k happens with probability

    m = specific(o, k) x exp(-(risk_a(k) + risk_state(k))) x retraining(a, k) x rule(i, k)

(thinning a Poisson process by m <= 1 is exactly a hazard multiplied by m). The uniform
each row is compared with is drawn once, up front, from the ``deterrence`` stream, so two
policies compare the same potential misuse (common random numbers), and with deterrence
off every potential row happens (the earlier model).

* specific deterrence: after their own confirmed case an operator's hazard is
  ``specific_factor`` for ``specific_days`` (JAMA Network Open 2020: ~2% of warned
  employees repeated against ~40% unwarned: a hazard ratio of ln(.98)/ln(.60) = 0.04);
* general deterrence: an agency's perceived risk jumps after a confirmed case, a DOJ audit
  visit or a CAC sanction there and decays with a half-life; a publicised case (prosecution, dismissal,
  sanction) raises everyone's a little (peer-spread audit risk in tax-compliance
  agent-based models: Bloomquist 2005; Korobow, Johnson & Axtell 2007);
* retraining: after a confirmed case or an audit finding an agency retrains with some
  probability; its operators' hazard falls for a while, and a misunderstood rule (the
  Chula Vista CCW checks) stops being broken for good. Retrained operators' training and
  test dates are renewed in the registry.
"""

from __future__ import annotations

import math

import numpy as np

from sim.catalogue import ARCHETYPES

RULE_ARCHETYPES = np.array([ARCHETYPES.index(a) for a in ("misunderstood_rule", "mass_rule")])


class Behaviour:
    def __init__(self, model):
        self.m = model
        self.cfg = model.cfg.behaviour
        self.rng = model.rngs["deterrence"]
        rows = model.gen.misuse.rows
        n_pot = len(rows["time"])
        self.u = self.rng.random(n_pot)  # one draw per potential row, fixed up front
        self.pot_op = rows["operator"]
        self.pot_agency = model.world.operators.agency[rows["operator"]]
        self.pot_rule = np.isin(rows["archetype"], RULE_ARCHETYPES)
        n_ops, n_ag = len(model.world.operators), model.n_ag
        self.specific_until = np.full(n_ops, -1, dtype=np.int64)
        self.agency_risk = np.zeros(n_ag)
        self.agency_risk_k = np.zeros(n_ag)
        self.state_risk, self.state_risk_k = 0.0, 0
        self.retrained_until = np.full(n_ag, -1, dtype=np.int64)
        self.rule_fixed = np.zeros(n_ag, dtype=bool)
        self.retraining_pending = np.zeros(n_ag, dtype=bool)
        self.events: list[dict] = []  # dated record of what changed behaviour
        self.potential_by_k: dict[int, int] = {}

    # ------------------------------------------------------------------ thinning
    def keep(self, a: int, b: int, k: int) -> np.ndarray:
        """Which of the potential misuse rows a:b (all on loop day k) happen."""
        self.potential_by_k[k] = b - a
        if not self.cfg.deterrence or a == b:
            return np.ones(b - a, dtype=bool)
        c = self.cfg
        op, ag = self.pot_op[a:b], self.pot_agency[a:b]
        m = np.where(self.specific_until[op] > k, c.specific_factor, 1.0)
        risk = self._agency_risk_now(k)[ag] + self._state_risk_now(k)
        m = m * np.exp(-risk)
        m = m * np.where(self.retrained_until[ag] > k, c.retraining_factor, 1.0)
        m = np.where(self.pot_rule[a:b] & self.rule_fixed[ag], 0.0, m)
        return self.u[a:b] < m

    def _agency_risk_now(self, k: int) -> np.ndarray:
        decay = np.exp(-math.log(2) * (k - self.agency_risk_k) / self.cfg.agency_half_life_days)
        return self.agency_risk * decay

    def _state_risk_now(self, k: int) -> float:
        return self.state_risk * math.exp(-math.log(2) * (k - self.state_risk_k)
                                          / self.cfg.statewide_half_life_days)

    def _raise_agency(self, a: int, k: int, amount: float) -> None:
        self.agency_risk[a] = self._agency_risk_now(k)[a] + amount
        self.agency_risk_k[a] = k

    def _raise_state(self, k: int, amount: float) -> None:
        self.state_risk = self._state_risk_now(k) + amount
        self.state_risk_k = k

    # ------------------------------------------------------------------ events
    def on_case_closed(self, k: int, op: int, agency: int, confirmed: bool, publicised: bool) -> None:
        """An investigation ended: the operator was warned or disciplined; colleagues heard."""
        if not confirmed or not self.cfg.deterrence:
            return
        c = self.cfg
        self.specific_until[op] = max(self.specific_until[op], k + c.specific_days)
        self._raise_agency(agency, k, c.agency_case_effect)
        if publicised:
            self._raise_state(k, c.statewide_effect)
        self.events.append(dict(day=self.m.clock.abs(k), agency=agency, operator=op, kind="case"))
        self._maybe_retrain(k, agency)

    def on_audit(self, k: int, agency: int) -> None:
        """Auditors visited: the agency's operators see that logs are read (perceived risk)."""
        if self.cfg.deterrence:
            self._raise_agency(agency, k, self.cfg.audit_effect)

    def on_audit_finding(self, k: int, agency: int) -> None:
        if self.cfg.deterrence:
            self._maybe_retrain(k, agency)

    def on_sanction(self, k: int, agency: int) -> None:
        if not self.cfg.deterrence:
            return
        self._raise_agency(agency, k, self.cfg.sanction_effect)
        self._raise_state(k, self.cfg.statewide_effect)
        self.events.append(dict(day=self.m.clock.abs(k), agency=agency, operator=-1, kind="sanction"))

    def _maybe_retrain(self, k: int, agency: int) -> None:
        draw = self.rng.random()  # drawn whatever the state, so the stream stays aligned
        if self.retraining_pending[agency] or self.retrained_until[agency] > k + self.cfg.retraining_delay_days:
            return
        if draw < self.cfg.retraining_probability:
            self.retraining_pending[agency] = True
            self.m.env.process(self._retrain(agency, k + self.cfg.retraining_delay_days))

    def _retrain(self, agency: int, at: int):
        env = self.m.env
        if at > env.now:
            yield env.timeout(at - env.now)
        k = int(env.now)
        self.retraining_pending[agency] = False
        self.retrained_until[agency] = k + self.cfg.retraining_days
        self.rule_fixed[agency] = True
        ops = self.m.world.operators
        lo, hi = self.m.lawful.op_ptr[agency], self.m.lawful.op_ptr[agency + 1]
        day = self.m.clock.abs(k)
        # everyone retrained: trained, tested (and passing), statements signed
        ops.training_day[lo:hi] = np.minimum(ops.training_day[lo:hi], day)
        ops.test_day[lo:hi] = day
        ops.test_score[lo:hi] = np.maximum(ops.test_score[lo:hi], 70)
        ops.confidentiality_day[lo:hi] = day
        self.events.append(dict(day=day, agency=agency, operator=-1, kind="retraining"))
