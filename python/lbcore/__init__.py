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

__version__ = "0.1.0"

__all__ = [
    "Flow", "Flows", "PROTOCOLS", "Random",
    "flow_hash", "flow_hash_fields", "hash_key", "hash_u64_many",
    # Route 53 kernels (issue 6)
    "Geoproximity", "great_circle_km", "biased_distance", "PrefixTable", "RecordPicker",
    "RequestSelector", "LeastOutstanding", "PowerOfTwoChoices", "RoundRobin", "WeightedRandom", "alias_table",
    "TokenBuckets", "seconds_to_ns",
]

# Consistent flow selection and connection tracking (issue 3)
from lbcore._maglev import Maglev, MaglevTableSizeWarning, maglev_populate  # noqa: E402
from lbcore._jump import JumpHash, jump_hash  # noqa: E402
from lbcore._rendezvous import Rendezvous  # noqa: E402
from lbcore._flowtable import FlowTable  # noqa: E402

__all__ += ["Maglev", "MaglevTableSizeWarning", "maglev_populate", "JumpHash", "jump_hash",
            "Rendezvous", "FlowTable"]

# GENEVE encapsulation (issue 7); lbcore.elb is a subpackage (import lbcore.elb)
from lbcore import geneve  # noqa: E402

__all__ += ["geneve"]
