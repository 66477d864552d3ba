"""What a sleep decides with: the noise traces, or a baseline at the same density.

The decisions of a sleep epoch (``_decisions.decide``: ``p = min(1, k s)``, keep with
probability ``p`` and divide the weight by ``p``, the matched leak) are the same whatever
the scores ``s`` are. ``rule`` chooses them:

- ``"noise"``: the trace-estimated scores ``s = |w| E[(r_post - sgn r_pre)^2]`` (the rule
  of Moore & Chaudhuri 2020);
- ``"weight"``: ``s = |w|`` (``p`` proportional to the weight, the baseline of
  :func:`plasticsim.control_probabilities` with ``strategy="weight"``);
- ``"uniform"``: ``s = 1`` (every candidate kept with the same ``p``).

With a ``density`` target ``k`` is solved so that the expected fraction of the candidates
kept is ``density`` for every rule, so the baselines prune exactly as much as the traces
do. The traces are measured whatever the rule (the report holds them), so an epoch costs
the same.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_choice

__all__ = ["RULES", "check_rule", "unit_scores_for"]

#: The scores a sleep may decide with.
RULES = ("noise", "weight", "uniform")


def check_rule(rule) -> str:
    """``rule`` if it is one of :data:`RULES` (``TypeError``/``ValueError`` otherwise)."""
    if not isinstance(rule, str):
        raise TypeError(f"rule must be one of {RULES}, got {rule!r}.")
    check_choice("rule", rule, RULES)
    return rule


def unit_scores_for(rule: str, unit_scores: np.ndarray, weight: np.ndarray, reps) -> np.ndarray:
    """The scores of the decision units under ``rule``.

    ``unit_scores`` are the trace estimates of the units (``"noise"`` returns them),
    ``weight`` the synapses' weights and ``reps`` each unit's representative synapse (a
    symmetric pair's two directions carry the same weight). ``O(units)``.

    Examples
    --------
    >>> import numpy as np
    >>> unit_scores_for("weight", np.array([0.1, 0.2]), np.array([-2.0, 0.5]), np.array([0, 1]))
    array([2. , 0.5])
    >>> unit_scores_for("uniform", np.array([0.1, 0.2]), np.array([-2.0, 0.5]), np.array([0, 1]))
    array([1., 1.])
    """
    if rule == "noise":
        return unit_scores
    if rule == "weight":
        return np.abs(weight[reps]).astype(np.float64)
    return np.ones(np.asarray(reps).size)
