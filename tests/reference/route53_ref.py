"""Slow, literal models of Route 53's record-choice rules (Developer Guide wording), used to
check lbcore.route53 on random zones. Each returns the set of record indices that may
answer (random policies) or the one index that must (deterministic ones); -1 = NODATA."""


def weighted_support(weights, healthy):
    """Records that can be returned, with their probabilities."""
    pool = [i for i in range(len(weights)) if healthy[i]]
    if not pool:                                    # no healthy record: all are healthy
        pool = list(range(len(weights)))
    nonzero = [i for i in pool if weights[i] > 0]
    if nonzero:                                     # zero weights only without these
        total = sum(weights[i] for i in nonzero)
        return {i: weights[i] / total for i in nonzero}
    return {i: 1 / len(pool) for i in pool}         # all zero: equally


def failover(kinds, healthy):
    prim = [i for i, k in enumerate(kinds) if k == "PRIMARY"]
    sec = [i for i, k in enumerate(kinds) if k == "SECONDARY"]
    if prim and healthy[prim[0]]:
        return prim[0]
    if sec and healthy[sec[0]]:
        return sec[0]
    return prim[0] if prim else (sec[0] if sec else -1)


def geolocation(locations, healthy, client):
    """locations[i]: ('subdivision', 'US', st) | ('country', cc) | ('continent', c) | ('*',)
    client: (continent, country, subdivision), any may be None."""
    continent, country, subdivision = client
    chain = []
    for i, loc in enumerate(locations):
        if loc[0] == "subdivision" and country == "US" and subdivision == loc[2]:
            chain.append((0, i))
        elif loc[0] == "country" and country == loc[1]:
            chain.append((1, i))
        elif loc[0] == "continent" and continent == loc[1]:
            chain.append((2, i))
        elif loc[0] == "*":
            chain.append((3, i))
    chain.sort()
    for _, i in chain:
        if healthy[i]:
            return i
    return chain[0][1] if chain else -1


def multivalue_pool(healthy):
    pool = [i for i, ok in enumerate(healthy) if ok]
    return pool or list(range(len(healthy)))
