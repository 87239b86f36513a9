"""Brute-force longest-prefix match: scan every prefix with ``ipaddress``."""
import ipaddress


def lookup(prefixes, values, address, default=-1):
    addr = ipaddress.ip_address(address)
    best_len, best = -1, default
    for p, v in zip(prefixes, values):
        net = ipaddress.ip_network(p)
        if net.version == addr.version and addr in net and net.prefixlen > best_len:
            best_len, best = net.prefixlen, v
    return best
