"""Slow obvious reference for lbcore.apigateway.Resources.match: every template is a
regular expression; among the templates that match the path and have the method (or
ANY), the most specific is the one whose parts, read left to right, rank lowest
(literal 0 < path variable 1 < greedy variable 2)."""
from __future__ import annotations

import re


def _pattern(template):
    if template == "/":
        return re.compile(r"/?"), ()
    out, rank = "", []
    for part in template[1:].split("/"):
        if part.startswith("{") and part.endswith("+}"):
            out += r"/(?=.*[^/])[^\x00]*"            # the rest, not only slashes
            rank.append(2)
        elif part.startswith("{"):
            out += r"/[^/]+"
            rank.append(1)
        else:
            out += "/" + re.escape(part)
            rank.append(0)
    return re.compile(out + "/?"), tuple(rank)


def match_ref(resources, path, method):
    """(template, method) deciding ``path``/``method`` under ``resources`` ({template:
    {METHOD: api key required}}), or None."""
    m = method.upper()
    if m == "ANY":
        return None
    best = None
    for template, methods in resources.items():
        if m not in methods and "ANY" not in methods:
            continue
        pat, rank = _pattern(template)
        if pat.fullmatch(path) and (best is None or rank < best[0]):
            best = (rank, template, m if m in methods else "ANY")
    return None if best is None else best[1:]
