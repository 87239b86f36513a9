"""ALB listener rules: parsing (``describe_rules`` shapes), validation, and a
compiled rule set that picks the matching rule without scanning every rule's
patterns per request (design: docs/alb-rules.md).

Compilation in one paragraph: rule ``i`` (sorted by priority) owns bit ``i``.
Every condition of every rule is placed in a *slot*: ``host``, ``path``,
``method``, ``source-ip``, ``header:<name>#k`` (the k-th condition on that
header name in the rule) or ``query#k``. Per request each slot yields the
bitmask of rules whose condition in that slot holds, OR'ed with the mask of
rules that have no condition in that slot. The AND of all slot masks is the
set of matching rules; its lowest set bit is the highest-priority match.
A slot's mask comes from a pattern index: exact values in a dict, wildcard
patterns bucketed by their literal prefix (or suffix) so only patterns whose
literal part is present are checked, and a bounded per-slot cache of
value -> mask.
"""
from __future__ import annotations

import ipaddress
import re
from typing import Any, Callable, Iterable, Mapping, Sequence, Union

from lbcore.elb._request import QUERY_SEP, Request

__all__ = ["Condition", "Rule", "RuleSet", "parse_rule", "parse_condition",
           "wildcard_tokens", "MAX_VALUES_PER_RULE", "MAX_WILDCARDS_PER_RULE"]

MAX_VALUES_PER_RULE = 5
MAX_WILDCARDS_PER_RULE = 5
MAX_STRING = 128
PRIORITY_MIN, PRIORITY_MAX = 1, 50000

FIELDS = ("host-header", "path-pattern", "http-header", "http-request-method",
          "query-string", "source-ip")
_SINGLE = ("host-header", "path-pattern", "http-request-method", "source-ip")
_CONFIG_KEY = {"host-header": "HostHeaderConfig", "path-pattern": "PathPatternConfig",
               "http-header": "HttpHeaderConfig", "http-request-method": "HttpRequestMethodConfig",
               "query-string": "QueryStringConfig", "source-ip": "SourceIpConfig"}
_HOST_CHARS = re.compile(r"[A-Za-z0-9\-.*?]+\Z")
_METHOD_CHARS = re.compile(r"[A-Za-z_\-]+\Z")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_CACHE_MAX = 4096

Token = Union[str, tuple[str, str]]          # "*", "?" or ("lit", c)
Evaluator = Callable[[Request], int]


# ------------------------------------------------------------------ wildcards
def wildcard_tokens(pattern: str, escapes: bool = False) -> list[Token]:
    """Split a pattern into tokens: ``"*"``, ``"?"`` or a 1-char literal
    (``("lit", c)``). With ``escapes``, ``\\*`` ``\\?`` ``\\\\`` are literals."""
    out: list[Token] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if escapes and c == "\\" and i + 1 < n and pattern[i + 1] in "*?\\":
            out.append(("lit", pattern[i + 1]))
            i += 2
            continue
        out.append(c if c in "*?" else ("lit", c))
        i += 1
    return out


def _count_wildcards(pattern: str, escapes: bool = False) -> int:
    return sum(1 for t in wildcard_tokens(pattern, escapes) if t in ("*", "?"))


class _Pattern:
    """A compiled wildcard pattern over normalized strings."""

    __slots__ = ("tokens", "literal", "prefix", "suffix", "kind", "regex")

    literal: str | None
    prefix: str
    suffix: str
    regex: Callable[[str], Any] | None

    def __init__(self, tokens: list[Token], any_char: str = ".") -> None:
        self.tokens = tokens
        wild = [i for i, t in enumerate(tokens) if t in ("*", "?")]
        if not wild:
            self.literal = "".join(t[1] for t in tokens)
            self.kind = "exact"
            self.prefix = self.suffix = ""
            self.regex = None
            return
        self.literal = None
        self.prefix = "".join(t[1] for t in tokens[:wild[0]])
        self.suffix = "".join(t[1] for t in tokens[wild[-1] + 1:])
        body = []
        for t in tokens:
            if t == "*":
                body.append(f"{any_char}*")
            elif t == "?":
                body.append(any_char)
            else:
                body.append(re.escape(t[1]))
        rx = re.compile("".join(body), re.DOTALL)
        self.regex = rx.fullmatch
        if len(wild) == 1 and tokens[wild[0]] == "*":
            # prefix*suffix with one star: decided by the literal parts and the length
            self.kind = "star"
        else:
            self.kind = "regex"

    def match_candidate(self, value: str) -> bool:
        """Full check of ``value`` (its prefix/suffix are already known to match)."""
        if self.kind == "star":
            return (len(value) >= len(self.prefix) + len(self.suffix)
                    and value.startswith(self.prefix) and value.endswith(self.suffix))
        assert self.regex is not None
        return self.regex(value) is not None


class _PatternIndex:
    """value -> OR of the masks of the patterns that match it."""

    __slots__ = ("exact", "prefix", "suffix", "other", "_pfx_lens", "_sfx_lens", "cache")

    def __init__(self) -> None:
        self.exact: dict[str, int] = {}
        self.prefix: dict[int, dict[str, list[tuple[_Pattern, int]]]] = {}   # len -> prefix ->
        self.suffix: dict[int, dict[str, list[tuple[_Pattern, int]]]] = {}
        self.other: list[tuple[_Pattern, int]] = []
        self.cache: dict[str, int] = {}
        self._pfx_lens: list[tuple[int, dict[str, list[tuple[_Pattern, int]]]]] = []
        self._sfx_lens: list[tuple[int, dict[str, list[tuple[_Pattern, int]]]]] = []

    def add(self, pat: _Pattern, bit: int) -> None:
        if pat.kind == "exact":
            assert pat.literal is not None
            self.exact[pat.literal] = self.exact.get(pat.literal, 0) | bit
            return
        # bucket by the longer literal end (more selective); no literal: scan list
        if pat.prefix and len(pat.prefix) >= len(pat.suffix):
            self.prefix.setdefault(len(pat.prefix), {}).setdefault(pat.prefix, []).append((pat, bit))
        elif pat.suffix:
            self.suffix.setdefault(len(pat.suffix), {}).setdefault(pat.suffix, []).append((pat, bit))
        else:
            self.other.append((pat, bit))

    def freeze(self) -> None:
        self._pfx_lens = sorted(self.prefix.items())
        self._sfx_lens = sorted(self.suffix.items())

    def match(self, value: str) -> int:
        m = self.cache.get(value)
        if m is not None:
            return m
        m = self.exact.get(value, 0)
        n = len(value)
        for ln, d in self._pfx_lens:
            if ln > n:
                break
            entries = d.get(value[:ln])
            if entries:
                for pat, bit in entries:
                    if not m & bit and pat.match_candidate(value):
                        m |= bit
        for ln, d in self._sfx_lens:
            if ln > n:
                break
            entries = d.get(value[n - ln:])
            if entries:
                for pat, bit in entries:
                    if not m & bit and pat.match_candidate(value):
                        m |= bit
        for pat, bit in self.other:
            if not m & bit and pat.match_candidate(value):
                m |= bit
        if len(self.cache) >= _CACHE_MAX:
            self.cache.clear()
        self.cache[value] = m
        return m


# ------------------------------------------------------------------ conditions
class Condition:
    """One rule condition. ``field`` is the elbv2 ``Field``; ``values`` the
    normalized comparison values: strings (host-header lower-cased),
    ``(key or None, value)`` pairs for query-string, ip networks for
    source-ip; ``header_name`` (lower-case) for http-header."""

    __slots__ = ("field", "values", "header_name", "raw")

    def __init__(self, field: str, values: Iterable[Any], header_name: str | None = None,
                 raw: Mapping[str, Any] | None = None) -> None:
        self.field = field
        self.values = tuple(values)
        self.header_name = header_name
        self.raw = raw

    def wildcards(self) -> int:
        """Wildcards in the condition's values (the elbv2 limit counts them)."""
        if self.field in ("host-header", "path-pattern", "http-header"):
            return sum(_count_wildcards(v) for v in self.values)
        if self.field == "query-string":
            return sum(_count_wildcards(v, True) + (_count_wildcards(k, True) if k else 0)
                       for k, v in self.values)
        return 0

    def __repr__(self) -> str:
        h = f" {self.header_name}" if self.header_name else ""
        return f"Condition({self.field}{h}: {list(self.values)!r})"


def _str_list(values: Any, where: str) -> list[str]:
    if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple)):
        raise ValueError(f"{where} must be a list of strings")
    if not values:
        raise ValueError(f"{where} must not be empty")
    for v in values:
        if not isinstance(v, str) or not v:
            raise ValueError(f"{where} must hold non-empty strings, got {v!r}")
        if len(v) > MAX_STRING:
            raise ValueError(f"{where}: {v[:20]!r}... is longer than {MAX_STRING} characters")
    return list(values)


def parse_condition(cond: Mapping[str, Any], where: str = "Conditions[0]") -> Condition:
    """Validate one ``describe_rules`` condition dict → :class:`Condition`."""
    if not isinstance(cond, dict):
        raise ValueError(f"{where} must be a dict, got {type(cond).__name__}")
    field = cond.get("Field")
    if field not in FIELDS:
        raise ValueError(f"{where}.Field must be one of {', '.join(FIELDS)}, got {field!r}")
    key = _CONFIG_KEY[field]
    for k in cond:
        if k not in ("Field", "Values", key, "RegexValues"):
            raise ValueError(f"{where}: unexpected key {k!r} for Field {field!r}")
    if cond.get("RegexValues"):
        raise ValueError(f"{where}.RegexValues: regex conditions are not supported by lbcore")
    config = cond.get(key)
    legacy = cond.get("Values")
    if config is None:
        if legacy is None:
            raise ValueError(f"{where}: {key} is required for Field {field!r}")
        if field not in ("host-header", "path-pattern"):
            raise ValueError(f"{where}.Values is only allowed for host-header and path-pattern; "
                             f"use {key}")
        config = {"Values": legacy}
        cwhere = f"{where}.Values"
    else:
        if not isinstance(config, dict):
            raise ValueError(f"{where}.{key} must be a dict")
        cwhere = f"{where}.{key}.Values"
        if legacy and legacy != config.get("Values"):
            raise ValueError(f"{where}: Values and {key}.Values differ")
    if field == "host-header":
        vals = _str_list(config.get("Values"), cwhere)
        for v in vals:
            if not _HOST_CHARS.match(v):
                raise ValueError(f"{cwhere}: invalid host name pattern {v!r} "
                                 f"(A-Z a-z 0-9 - . * ? only)")
        return Condition(field, [v.lower() for v in vals], raw=cond)
    if field == "path-pattern":
        vals = _str_list(config.get("Values"), cwhere)
        for v in vals:
            if any(ord(c) <= 32 or ord(c) == 127 for c in v):
                raise ValueError(f"{cwhere}: path pattern {v!r} contains a space or control character")
        return Condition(field, vals, raw=cond)
    if field == "http-request-method":
        vals = _str_list(config.get("Values"), cwhere)
        for v in vals:
            if len(v) > 40 or not _METHOD_CHARS.match(v):
                raise ValueError(f"{cwhere}: invalid method {v!r} (A-Z, '-' and '_', "
                                 f"no wildcards, at most 40 characters)")
        return Condition(field, vals, raw=cond)
    if field == "http-header":
        name = config.get("HttpHeaderName")
        if not isinstance(name, str) or not _TOKEN.match(name) or len(name) > 40:
            raise ValueError(f"{where}.{key}.HttpHeaderName must be a header name "
                             f"(token, at most 40 characters), got {name!r}")
        vals = _str_list(config.get("Values"), cwhere)
        return Condition(field, [v.lower() for v in vals], header_name=name.lower(), raw=cond)
    if field == "query-string":
        items = config.get("Values")
        if not isinstance(items, (list, tuple)) or not items:
            raise ValueError(f"{cwhere} must be a non-empty list of {{Key, Value}}")
        pairs = []
        for j, kv in enumerate(items):
            if not isinstance(kv, dict) or "Value" not in kv or set(kv) - {"Key", "Value"}:
                raise ValueError(f"{cwhere}[{j}] must be a dict with 'Value' and optional 'Key'")
            k, v = kv.get("Key"), kv["Value"]
            for what, s in (("Key", k), ("Value", v)):
                if s is None and what == "Key":
                    continue
                if not isinstance(s, str) or not s or len(s) > MAX_STRING:
                    raise ValueError(f"{cwhere}[{j}].{what} must be a non-empty string of at "
                                     f"most {MAX_STRING} characters, got {s!r}")
            pairs.append((k.lower() if k is not None else None, v.lower()))
        return Condition(field, pairs, raw=cond)
    # source-ip
    vals = _str_list(config.get("Values"), cwhere)
    nets = []
    for v in vals:
        if "/" not in v:
            raise ValueError(f"{cwhere}: {v!r} must be in CIDR format (address/prefix)")
        try:
            nets.append(ipaddress.ip_network(v, strict=False))
        except ValueError:
            raise ValueError(f"{cwhere}: {v!r} is not a valid IPv4/IPv6 CIDR") from None
    return Condition(field, nets, raw=cond)


# ------------------------------------------------------------------ rules
class Rule:
    """A listener rule: ``priority`` (int 1–50000, None for the default rule),
    ``conditions`` (list of :class:`Condition`), ``action`` (the parsed
    terminal action: the ALB's parsed action), ``arn``."""

    __slots__ = ("priority", "conditions", "action", "arn", "raw")

    def __init__(self, priority: int | None, conditions: list[Condition], action: Any = None,
                 arn: str | None = None, raw: Mapping[str, Any] | None = None) -> None:
        self.priority = priority
        self.conditions = conditions
        self.action = action
        self.arn = arn
        self.raw = raw

    @property
    def is_default(self) -> bool:
        return self.priority is None

    def __repr__(self) -> str:
        p = "default" if self.priority is None else self.priority
        return f"Rule({p}, {self.conditions!r})"


def _parse_priority(p: object, where: str) -> int | None:
    if isinstance(p, str):
        if p == "default":
            return None
        if not p.isdigit():
            raise ValueError(f"{where}.Priority must be 1..50000 or 'default', got {p!r}")
        p = int(p)
    if isinstance(p, bool) or not isinstance(p, int) or not PRIORITY_MIN <= p <= PRIORITY_MAX:
        raise ValueError(f"{where}.Priority must be 1..50000 or 'default', got {p!r}")
    return p


def parse_rule(rule: Mapping[str, Any], where: str = "Rules[0]",
               action_parser: Callable[[Any, str], Any] | None = None) -> Rule:
    """Validate one rule dict as ``describe_rules`` returns it → :class:`Rule`.
    ``action_parser(actions, where)`` parses ``Actions`` (None: kept raw)."""
    if not isinstance(rule, dict):
        raise ValueError(f"{where} must be a dict, got {type(rule).__name__}")
    is_default = rule.get("IsDefault", False)
    prio = _parse_priority(rule.get("Priority", "default" if is_default else None), where)
    if is_default and prio is not None:
        raise ValueError(f"{where}.Priority must be 'default' when IsDefault is true")
    conds_raw = rule.get("Conditions", [])
    if not isinstance(conds_raw, (list, tuple)):
        raise ValueError(f"{where}.Conditions must be a list")
    if prio is None and conds_raw:
        raise ValueError(f"{where}.Conditions: the default rule can't have conditions")
    if prio is not None and not conds_raw:
        raise ValueError(f"{where}.Conditions: a non-default rule needs at least one condition")
    conds = [parse_condition(c, f"{where}.Conditions[{i}]") for i, c in enumerate(conds_raw)]
    for f in _SINGLE:
        if sum(1 for c in conds if c.field == f) > 1:
            raise ValueError(f"{where}.Conditions: at most one {f} condition per rule")
    nvals = sum(len(c.values) for c in conds)
    if nvals > MAX_VALUES_PER_RULE:
        raise ValueError(f"{where}.Conditions: {nvals} condition values, at most "
                         f"{MAX_VALUES_PER_RULE} per rule")
    nwild = sum(c.wildcards() for c in conds)
    if nwild > MAX_WILDCARDS_PER_RULE:
        raise ValueError(f"{where}.Conditions: {nwild} wildcards, at most "
                         f"{MAX_WILDCARDS_PER_RULE} per rule")
    actions = rule.get("Actions")
    action = action_parser(actions, where) if action_parser else actions
    return Rule(prio, conds, action, rule.get("RuleArn"), rule)


# ------------------------------------------------------------------ compilation
def _condition_patterns(cond: Condition) -> list[_Pattern]:
    """The condition's values as _Pattern objects over the normalized strings
    the request side produces for its slot."""
    if cond.field == "query-string":
        out = []
        for k, v in cond.values:
            kt: list[Token] = wildcard_tokens(k, True) if k is not None else ["*"]
            # '*' and '?' never cross the key/value separator
            toks = kt + [("lit", QUERY_SEP)] + wildcard_tokens(v, True)
            out.append(_Pattern(toks, any_char=f"[^{QUERY_SEP}]"))
        return out
    return [_Pattern(wildcard_tokens(v)) for v in cond.values]


class _Slot:
    __slots__ = ("kind", "name", "index", "free", "nets", "net_lens", "cache")

    def __init__(self, kind: str, name: str | None) -> None:
        self.kind = kind
        self.name = name
        self.index: Any = _PatternIndex() if kind != "source-ip" else None
        self.free = 0
        self.nets: dict[tuple[int, int], dict[int, int]] = {}  # (version, plen) -> {net: mask}
        self.net_lens: tuple[tuple[tuple[int, int], dict[int, int]], ...] = ()
        self.cache: dict[Any, int] = {}


def _not_a_request(request: object) -> None:
    raise TypeError(f"request must be a Request, got {type(request).__name__}")


class RuleSet:
    """The rules of one listener, compiled. ``rules``: :class:`Rule` objects
    (non-default, distinct priorities) and ``default`` (the default rule).
    :meth:`match` returns the rule that applies to a request."""

    match: Callable[[Request], Rule]

    def __init__(self, rules: Iterable[Rule], default: Rule) -> None:
        if isinstance(rules, (str, bytes)) or not hasattr(rules, "__iter__"):
            raise TypeError(f"rules must be an iterable of Rule, got {type(rules).__name__}")
        rules = list(rules)
        seen: dict[int, Rule] = {}
        for i, r in enumerate(rules):
            if not isinstance(r, Rule):
                raise TypeError(f"rules[{i}] must be a Rule (see parse_rule), got "
                                f"{type(r).__name__}")
        if default is not None and not isinstance(default, Rule):
            raise TypeError(f"default must be a Rule, got {type(default).__name__}")
        for r in rules:
            if r.priority is None:
                raise ValueError("rules: only one default rule per listener")
            if r.priority in seen:
                raise ValueError(f"rules: priority {r.priority} used twice")
            seen[r.priority] = r
        if default is None or default.priority is not None:
            raise ValueError("rules: a listener needs a default rule")
        self.rules = sorted(rules, key=lambda r: r.priority or 0)
        self.default = default
        self.all = (1 << len(self.rules)) - 1
        slots: dict[tuple[str, str | None, int], _Slot] = {}
        for i, r in enumerate(self.rules):
            bit = 1 << i
            counts: dict[tuple[str, str | None], int] = {}
            for c in r.conditions:
                if c.field == "http-header":
                    base = ("header", c.header_name)
                elif c.field == "query-string":
                    base = ("query", None)
                else:
                    base = (c.field, None)
                k = counts.get(base, 0)
                counts[base] = k + 1
                key = (base[0], base[1], k)
                slot = slots.get(key)
                if slot is None:
                    slot = slots[key] = _Slot(base[0], base[1])
                if c.field == "source-ip":
                    for net in c.values:
                        d = slot.nets.setdefault((net.version, net.prefixlen), {})
                        key_int = int(net.network_address) >> (net.max_prefixlen - net.prefixlen)
                        d[key_int] = d.get(key_int, 0) | bit
                else:
                    for pat in _condition_patterns(c):
                        slot.index.add(pat, bit)
            # rules without a condition in a slot pass it: computed below
        for key, slot in slots.items():
            used = 0
            for i, r in enumerate(self.rules):
                if self._rule_uses(r, key):
                    used |= 1 << i
            slot.free = self.all & ~used
            if slot.index is not None:
                slot.index.freeze()
            slot.net_lens = tuple(sorted(slot.nets.items(), key=lambda kv: -kv[0][1]))
        order = {"http-request-method": 0, "host-header": 1, "path-pattern": 2,
                 "source-ip": 3, "header": 4, "query": 5}
        self._slots = sorted(slots.values(), key=lambda s: order[s.kind])
        self._evals = [self._evaluator(s) for s in self._slots]
        self.match = self._generate()

    @staticmethod
    def _rule_uses(rule: Rule, key: tuple[str, str | None, int]) -> bool:
        kind, name, k = key
        n = 0
        for c in rule.conditions:
            if kind == "header":
                hit = c.field == "http-header" and c.header_name == name
            elif kind == "query":
                hit = c.field == "query-string"
            else:
                hit = c.field == kind
            n += hit
        return n > k

    def _evaluator(self, slot: _Slot) -> Evaluator:
        index: _PatternIndex = slot.index
        free = slot.free
        if slot.kind == "host-header":
            def ev(req: Request) -> int:
                h = req.host_name
                return free | index.match(h) if h is not None else free
        elif slot.kind == "path-pattern":
            def ev(req: Request) -> int:
                return free | index.match(req.path)
        elif slot.kind == "http-request-method":
            def ev(req: Request) -> int:
                return free | index.match(req.method)
        elif slot.kind == "header":
            name = slot.name or ""

            def ev(req: Request) -> int:
                m = free
                for v in req.headers.match_values(name):
                    m |= index.match(v)
                return m
        elif slot.kind == "query":
            def ev(req: Request) -> int:
                m = free
                for kv in req.query_match_keys():
                    m |= index.match(kv)
                return m
        else:  # source-ip
            lens, cache = slot.net_lens, slot.cache

            def ev(req: Request) -> int:
                a = req.source_address
                m = cache.get(a)
                if m is None:
                    m = 0
                    ver, ai, bits = a.version, int(a), a.max_prefixlen
                    for (v, plen), d in lens:
                        if v == ver:
                            m |= d.get(ai >> (bits - plen), 0)
                    if len(cache) >= _CACHE_MAX:
                        cache.clear()
                    cache[a] = m
                return free | m
        return ev

    def match_mask(self, request: Request) -> int:
        """Bitmask of every matching non-default rule (bit i = ``rules[i]``)."""
        if not isinstance(request, Request):
            raise TypeError(f"request must be a Request, got {type(request).__name__}")
        m = self.all
        for ev in self._evals:
            m &= ev(request)
            if not m:
                return 0
        return m

    def _match_loop(self, request: Request) -> Rule:
        """:meth:`match` through the per-slot evaluator closures (the generated
        :meth:`match` must agree with it)."""
        m = self.all
        for ev in self._evals:
            m &= ev(request)
            if not m:
                return self.default
        if not m:
            return self.default
        return self.rules[(m & -m).bit_length() - 1]

    def _generate(self) -> Callable[[Request], Rule]:
        """Generate :meth:`match` as straight-line Python for this rule set: each
        slot inlines its cache lookup and mask AND, no per-slot call when the
        value's mask is cached (same result as :meth:`_match_loop`)."""
        # the generated matcher belongs to this module (its __module__, tracebacks)
        ns = {"__name__": __name__, "ALL": self.all, "DEFAULT": self.default,
              "RULES": self.rules, "Request": Request, "reject": _not_a_request}
        lines = ["def match(request):",
                 "    if request.__class__ is not Request and not isinstance(request, Request):",
                 "        reject(request)",
                 "    m = ALL"]
        for i, (slot, ev) in enumerate(zip(self._slots, self._evals)):
            ns[f"F{i}"] = slot.free
            ns[f"E{i}"] = ev
            if slot.kind in ("http-request-method", "host-header", "path-pattern"):
                ns[f"C{i}"] = slot.index.cache
                ns[f"M{i}"] = slot.index.match
                attr = {"http-request-method": "method", "host-header": "host_name",
                        "path-pattern": "path"}[slot.kind]
                lines += [f"    v = request.{attr}",
                          f"    x = C{i}.get(v)",
                          f"    if x is None:",
                          f"        x = M{i}(v) if v is not None else 0",
                          f"    m &= F{i} | x"]
            elif slot.kind == "header":
                ns[f"C{i}"] = slot.index.cache
                ns[f"M{i}"] = slot.index.match
                ns[f"N{i}"] = slot.name
                lines += [f"    y = F{i}",
                          f"    for v in request.headers.match_values(N{i}):",
                          f"        x = C{i}.get(v)",
                          f"        y |= x if x is not None else M{i}(v)",
                          f"    m &= y"]
            elif slot.kind == "query":
                ns[f"C{i}"] = slot.index.cache
                ns[f"M{i}"] = slot.index.match
                lines += [f"    y = F{i}",
                          f"    for v in request.query_match_keys():",
                          f"        x = C{i}.get(v)",
                          f"        y |= x if x is not None else M{i}(v)",
                          f"    m &= y"]
            else:
                lines.append(f"    m &= E{i}(request)")
            lines += ["    if not m:", "        return DEFAULT"]
        lines += ["    if not m:", "        return DEFAULT",
                  "    return RULES[(m & -m).bit_length() - 1]"]
        exec("\n".join(lines), ns)
        fn: Callable[[Request], Rule] = ns["match"]     # type: ignore[assignment]
        fn.__doc__ = "The highest-priority rule whose conditions all hold (else the default rule)."
        return fn

    def __reduce__(self) -> tuple:
        # recompiled from its rules: the generated matcher is not picklable
        return (type(self), (self.rules, self.default))

    def __len__(self) -> int:
        return len(self.rules) + 1
