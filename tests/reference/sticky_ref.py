"""The stickiness-cookie rule, obviously (lbcore._sticky; docs/simulation.md, docs/elb.md):
a cookie naming a target binds a request while its expiry is after now; setting it at
now gives it the expiry now + duration."""


def cookie_target(target, expiry, now):
    if target is None or target < 0:
        return -1
    return target if expiry > now else -1


def cookie_expiry(now, duration):
    return now + duration
