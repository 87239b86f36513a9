"""What the simulator's model takes from a DNS name's ``lbcore.route53.HostedZone``:
the record sets built by ``lbcore.sim.world`` (aliases to targets of fixed health),
queried with ``answer_weights`` for a scenario client."""
import numpy as np

from lbcore.route53 import HostedZone
from lbcore.sim.world import record_set, scenario_client


class _Fixed:
    """An alias target of fixed health (a load balancer that is or is not healthy)."""

    def __init__(self, ok):
        self.ok = ok

    def is_healthy(self, now):
        return self.ok


def dns_distribution(records, healthy, rtt, location=None, client_geo=None):
    """What the simulator's model takes from the name's HostedZone (lbcore.sim.world's
    record sets and client): one-hot over ``records`` for the deterministic policies."""
    recs = [dict(r, alias_target=f"lb{i}", evaluate_target_health=True, bias=r.get("bias", 0))
            for i, r in enumerate(records)]
    zone = HostedZone(records[0]["name"], [record_set(r, _Fixed(ok))
                                          for r, ok in zip(recs, healthy)])
    client = scenario_client({"rtt": rtt, "location": location, "geolocation": client_geo})
    sets, weights = zone.answer_weights(records[0]["name"], "A", client, now=0.0)
    assert weights is None
    p = np.zeros(len(records))
    for rs in sets:
        p[[r["set_identifier"] for r in records].index(rs.set_identifier)] = 1.0
    return p
