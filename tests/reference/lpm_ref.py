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


def parse_text(address):
    """(version, int) of an address text as ``socket.inet_pton`` reads it (the rule
    ``PrefixTable.lookup(str)`` follows); ValueError when it is not an address."""
    import socket
    try:
        if ":" in address:
            return 6, int.from_bytes(socket.inet_pton(socket.AF_INET6, address), "big")
        return 4, int.from_bytes(socket.inet_pton(socket.AF_INET, address), "big")
    except (OSError, ValueError):
        raise ValueError(address) from None
