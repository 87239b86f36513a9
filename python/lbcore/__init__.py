"""lbcore: compiled traffic-routing kernels and AWS-like routing policy objects.

Algorithm API (this namespace): flows and flow hashing, consistent selection,
request-level selection, token buckets, geoproximity and prefix tables. AWS
policy objects live in ``lbcore.elb``, ``lbcore.route53`` and
``lbcore.apigateway``; ``lbcore.numba`` binds the kernels for ``@njit`` code.
"""
from lbcore._flow import Flow, PROTOCOLS
from lbcore._hash import flow_hash, flow_hash_fields, hash_key, hash_u64_many
from lbcore._rng import Random
from lbcore.flows import Flows
from lbcore._geo import Geoproximity, great_circle_km, biased_distance
from lbcore._lpm import PrefixTable
from lbcore._dnspick import RecordPicker
from lbcore._request_selector import RequestSelector
from lbcore._lor import LeastOutstanding, PowerOfTwoChoices
from lbcore._roundrobin import RoundRobin
from lbcore._alias import WeightedRandom, alias_table
from lbcore._bucket import TokenBuckets, seconds_to_ns
from lbcore._maglev import Maglev, MaglevTableSizeWarning, maglev_populate
from lbcore._jump import JumpHash, jump_hash
from lbcore._rendezvous import Rendezvous
from lbcore._flowtable import FlowTable
from lbcore import geneve

__version__ = "0.1.0"

__all__ = [
    # flows and hashing
    "Flow", "Flows", "PROTOCOLS", "Random",
    "flow_hash", "flow_hash_fields", "hash_key", "hash_u64_many",
    # consistent selection (select) and connection tracking
    "Maglev", "MaglevTableSizeWarning", "maglev_populate", "JumpHash", "jump_hash",
    "Rendezvous", "FlowTable",
    # request-level selection (pick)
    "RequestSelector", "LeastOutstanding", "PowerOfTwoChoices", "RoundRobin", "WeightedRandom",
    "alias_table",
    # DNS kernels (resolve)
    "Geoproximity", "great_circle_km", "biased_distance", "PrefixTable", "RecordPicker",
    # token buckets (check)
    "TokenBuckets", "seconds_to_ns",
    # GENEVE encapsulation (a module: lbcore.geneve)
    "geneve",
]
