"""The house rules (tests/api/layer_rules.py) hold over python/ and src/, and the checker
itself finds what it claims to find."""
import re
import textwrap

import pytest

import layer_rules

# Violations still pending, each with the work that removes it. Nothing may be added here:
# fix it instead. Entries are "path: message" (no line numbers, so unrelated edits do not
# break the test); test_pending_entries_are_still_real fails once one is fixed.
PENDING_KERNEL_SIDE = {
    # the simulator's compiled engine is a kernel module the simulator rewrite replaces with
    # its own loop (lbcore.sim's typed model -> _simloop); until then sim/_kernels.py is the
    # one place that imports it
    "python/lbcore/sim/_kernels.py: imports private module lbcore._sim from outside lbcore",
    # FlowTable.route with a user selector that has only select_many wraps the one flow in
    # a Flows batch; a compiled one-flow batch type would remove it
    "src/lbcore/_flowtable.pyx: kernel imports Python-layer module lbcore.flows",
}

_LINE = re.compile(r"^([^:]+):\d+: ")


def _keys(violations):
    return {_LINE.sub(r"\1: ", v) for v in violations}


def test_pending_list_is_kernel_side_only():
    for entry in PENDING_KERNEL_SIDE:
        path = entry.split(":")[0]
        assert path.startswith("src/lbcore/") or path.endswith("/_kernels.py") or path in (
            "python/lbcore/flows.py", "python/lbcore/numba/_rendezvous.py"), entry


def test_no_layer_violations():
    found = layer_rules.violations()
    new = sorted(v for v in found if _LINE.sub(r"\1: ", v) not in PENDING_KERNEL_SIDE)
    assert not new, "house-rule violations:\n" + "\n".join(new)


def test_pending_entries_are_still_real():
    # an entry fixed upstream must leave the list, so the list only ever shrinks
    gone = sorted(PENDING_KERNEL_SIDE - _keys(layer_rules.violations()))
    assert not gone, "fixed, remove from PENDING_KERNEL_SIDE:\n" + "\n".join(gone)


# ------------------------------------------------------------ the checker itself

def _tree(tmp_path, files):
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))
    return tmp_path


@pytest.fixture
def checker_on(tmp_path):
    def run(files):
        layer_rules.use_root(_tree(tmp_path, files))
        try:
            return layer_rules.violations()
        finally:
            layer_rules.use_root(layer_rules.Path(__file__).resolve().parents[2])
    return run


_CLEAN = {
    "src/lbcore/_kern.pyx": "cdef int _helper(int x):\n    return x\n",
    "python/lbcore/__init__.py": "from lbcore._kern import thing\n",
    "python/lbcore/elb/__init__.py": "from lbcore.elb._alb import Alb\n",
    "python/lbcore/elb/_alb.py": """
        class Alb:
            def __init__(self):
                self._rules = []

            def rules(self):
                return list(self._rules)
        """,
    "python/lbcore/sim/__init__.py": "from lbcore.elb import Alb\n",
}


def test_checker_passes_a_clean_tree(checker_on):
    assert checker_on(_CLEAN) == []


def test_checker_reports_a_private_attribute_read(checker_on):
    tree = dict(_CLEAN)
    tree["python/lbcore/sim/engine.py"] = """
        from lbcore.elb import Alb

        def rules(alb):
            return alb._rules
        """
    assert checker_on(tree) == [
        "python/lbcore/sim/engine.py:5: uses alb._rules, private to another module"]


def test_checker_reports_a_private_module_import(checker_on):
    tree = dict(_CLEAN)
    tree["python/lbcore/sim/engine.py"] = "from lbcore.elb._alb import Alb\n"
    assert checker_on(tree) == [
        "python/lbcore/sim/engine.py:1: imports private module lbcore.elb._alb from "
        "outside lbcore.elb"]


def test_checker_reports_an_upward_import(checker_on):
    tree = dict(_CLEAN)
    tree["python/lbcore/elb/_alb.py"] = "from lbcore.sim import simulate\n"
    found = checker_on(tree)
    assert found == ["python/lbcore/elb/_alb.py:1: policy module lbcore.elb._alb imports "
                     "user module lbcore.sim"]


def test_checker_reports_a_kernel_importing_python(checker_on):
    tree = dict(_CLEAN)
    tree["src/lbcore/_kern.pyx"] = "from lbcore.elb import Alb\n"
    assert checker_on(tree) == [
        "src/lbcore/_kern.pyx:1: kernel imports Python-layer module lbcore.elb"]
