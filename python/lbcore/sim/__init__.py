"""Discrete-event simulation of a scenario: Route 53 → load balancers → targets.

``load_scenario(path)`` reads and validates a TOML scenario (``None`` = the default one
shipped with lbcore), ``simulate(scenario, requests=, seed=)`` runs it through the
compiled loop in ``lbcore._sim`` and returns a report dict. See docs/simulation.md.
"""
from lbcore.sim.scenario import DEFAULT_SCENARIO, ScenarioError, load_scenario, parse_scenario
from lbcore.sim.engine import simulate

__all__ = ["DEFAULT_SCENARIO", "ScenarioError", "load_scenario", "parse_scenario", "simulate"]
