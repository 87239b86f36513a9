"""lbcore: compiled traffic-routing kernels and AWS-like routing policy objects.

Algorithm API (this namespace): flows and flow hashing, consistent selection,
request-level selection, token buckets, geoproximity and prefix tables. AWS
policy objects live in ``lbcore.elb``, ``lbcore.route53`` and
``lbcore.apigateway``; ``lbcore.numba`` binds the kernels for ``@njit`` code.
"""
from lbcore._flow import Flow, PROTOCOLS
from lbcore._hash import flow_hash, flow_hash_fields, hash_key, hash_u64_many, parse_seed
from lbcore._rng import Random
from lbcore._handle import KernelHandle
from lbcore.flows import Flows
from lbcore._geo import Geoproximity, great_circle_km, biased_distance
from lbcore._lpm import PrefixTable, parse_address
from lbcore._dnspick import RecordPicker
from lbcore._request_selector import RequestSelector
from lbcore._lor import LeastOutstanding, PowerOfTwoChoices
from lbcore._roundrobin import RoundRobin
from lbcore._alias import WeightedRandom, alias_table
from lbcore._bucket import (TokenBuckets, Quotas, check_chain, check_chains, check_kinds,
                            factorize_columns, period_id, seconds_to_ns)
from lbcore._maglev import (Maglev, MaglevTableSizeWarning, maglev_populate, is_prime,
                            maglev_table_size)
from lbcore._jump import JumpHash, jump_hash
from lbcore._sticky import (sticky_cookie_decode, sticky_cookie_encode, sticky_cookie_expiry,
                            sticky_cookie_target)
from lbcore._rendezvous import Rendezvous
from lbcore._flowtable import FlowTable, MAX_CAPACITY as MAX_FLOW_CAPACITY, flow_columns
from lbcore._l4 import L4Path
from lbcore import geneve

__version__ = "0.1.0"


def get_include() -> str:
    """The directory to put on a Cython include path (``include_path=[lbcore.get_include()]``)
    so that ``cimport lbcore`` / ``from lbcore cimport lb_...`` finds lbcore's public C API
    (``lbcore/__init__.pxd`` and the family ``.pxd`` files)."""
    from pathlib import Path
    here = Path(__file__).resolve().parent
    if (here / "__init__.pxd").exists():                    # an installed wheel
        return str(here.parent)
    src = here.parents[1] / "src"                           # a source tree / editable install
    if (src / "lbcore" / "__init__.pxd").exists():
        return str(src)
    raise FileNotFoundError("lbcore's .pxd files are not installed")


__all__ = [
    # flows and hashing
    "Flow", "Flows", "PROTOCOLS", "Random",
    "flow_hash", "flow_hash_fields", "hash_key", "hash_u64_many",
    # consistent selection (select) and connection tracking
    "Maglev", "MaglevTableSizeWarning", "maglev_populate", "JumpHash", "jump_hash",
    "sticky_cookie_target", "sticky_cookie_expiry", "sticky_cookie_encode", "sticky_cookie_decode",
    "Rendezvous", "FlowTable",
    # request-level selection (pick)
    "RequestSelector", "LeastOutstanding", "PowerOfTwoChoices", "RoundRobin", "WeightedRandom",
    "alias_table",
    # DNS kernels (resolve)
    "Geoproximity", "great_circle_km", "biased_distance", "PrefixTable", "RecordPicker",
    # token buckets (check)
    "TokenBuckets", "seconds_to_ns", "Quotas", "check_chain", "check_chains", "check_kinds",
    "period_id", "factorize_columns",
    # kernel facilities the policy layer shares, and the C-level handles
    "MAX_FLOW_CAPACITY", "flow_columns", "L4Path", "is_prime", "parse_seed", "parse_address",
    "maglev_table_size",
    "get_include", "KernelHandle",
    # GENEVE encapsulation (a module: lbcore.geneve)
    "geneve",
]
