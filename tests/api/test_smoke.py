import lbcore


def test_flow_hash_scalar_matches_batch():
    flows = lbcore.Flows.random(100, seed=3, ipv6_fraction=0.5)
    batch = lbcore.flow_hash(flows)
    assert [lbcore.flow_hash(f) for f in flows] == batch.tolist()
