"""The simulation engine: requests simulated per second on the default scenario.

    python -m pytest benchmarks/bench_sim.py --benchmark-enable -q
"""
import pytest

from lbcore._sim import Engine
from lbcore.sim import load_scenario
from lbcore.sim.model import compile_scenario
from lbcore.sim.world import build_world

N = 1_000_000


@pytest.fixture(scope="module")
def model():
    m, _ = compile_scenario(load_scenario(), requests=N)
    return m


def test_engine_default_scenario_1e6(benchmark, model):
    # set-up (compiling the scenario, building its objects, allocating the engine)
    # outside the timed region
    def setup():
        return (Engine(model, 2026, world=build_world(load_scenario(), 2026)),), {}

    def run(engine):
        assert engine.run(N) == N

    benchmark.pedantic(run, setup=setup, rounds=5, iterations=1)


def test_compile_default_scenario(benchmark):
    s = load_scenario()
    benchmark(compile_scenario, s, requests=N)
