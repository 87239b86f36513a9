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

import bisect
import ipaddress
import re
from typing import Any, Callable, Iterable, Mapping, Sequence, Union

from lbcore.elb._request import QUERY_SEP, Request

__all__ = ["Condition", "Rule", "RuleSet", "parse_rule", "parse_condition",
           "wildcard_tokens", "check_regex", "MAX_VALUES_PER_RULE",
           "MAX_VALUES_PER_CONDITION", "MAX_WILDCARDS_PER_RULE"]

MAX_VALUES_PER_RULE = 5
MAX_VALUES_PER_CONDITION = 3
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
_HOST_TLD = re.compile(r"[A-Za-z*?]+\Z")      # after the last "." (wildcards may stand for letters)
_METHOD_CHARS = re.compile(r"[A-Z_\-]+\Z")
_REGEX_FIELDS = ("host-header", "path-pattern", "http-header")
_BROADCAST = ipaddress.ip_network("255.255.255.255/32")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_CACHE_MAX = 4096
_SCAN_MAX = 8        # up to this many gram-filed patterns are checked one by one

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

    __slots__ = ("tokens", "literal", "prefix", "suffix", "kind", "regex", "runs", "pure",
                 "middle")

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
            self.runs, self.pure = [self.literal], None
            return
        self.literal = None
        # the maximal literal runs: each must occur, contiguous, in a matching value
        runs, cur = [], []
        for t in tokens:
            if t in ("*", "?"):
                if cur:
                    runs.append("".join(cur))
                cur = []
            else:
                cur.append(t[1])
        if cur:
            runs.append("".join(cur))
        self.runs = runs
        # only wildcards, each standing for any character: decided by the length alone
        # (value length == number of "?", or >= it when there is a "*")
        self.pure = ((len(wild) - tokens.count("*"), "*" in tokens)
                     if not runs and any_char == "." else None)
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
        self.middle: list[str] = []
        if len(wild) == 1 and tokens[wild[0]] == "*":
            # prefix*suffix with one star: decided by the literal parts and the length
            self.kind = "star"
        elif "?" not in tokens and any_char == ".":
            # prefix*run*...*run*suffix, stars only: each middle run found leftmost in
            # turn between the prefix and the suffix (leftmost is never worse)
            self.kind = "stars"
            self.middle = runs[bool(self.prefix):len(runs) - bool(self.suffix)]
        else:
            self.kind = "regex"

    def match_candidate(self, value: str) -> bool:
        """Full check of ``value`` (its prefix/suffix are already known to match)."""
        if self.kind == "star":
            return (len(value) >= len(self.prefix) + len(self.suffix)
                    and value.startswith(self.prefix) and value.endswith(self.suffix))
        if self.kind == "stars":
            pos, end = len(self.prefix), len(value) - len(self.suffix)
            if end < pos or not value.startswith(self.prefix) \
                    or not value.endswith(self.suffix):
                return False
            for r in self.middle:
                j = value.find(r, pos, end)
                if j < 0:
                    return False
                pos = j + len(r)
            return True
        assert self.regex is not None
        return self.regex(value) is not None


class _PatternIndex:
    """value -> OR of the masks of the patterns that match it.

    Each wildcard pattern is filed under one key it must have in a matching value, the
    most selective of its keys (the fewest patterns share it): its literal prefix, its
    literal suffix, or a k-gram (k <= 3) of one of its literal runs (a maximal run of
    literal characters, which a match must contain as it is). Patterns of wildcards only
    are decided by the value's length. A value then checks only the patterns filed
    under the keys it has, so the cost does not grow with the rule count."""

    __slots__ = ("exact", "wild", "prefix", "suffix", "other", "_pfx_lens", "_sfx_lens",
                 "cache", "_grams", "_len_eq", "_len_min", "_len_or", "_scan")

    def __init__(self) -> None:
        self.exact: dict[str, int] = {}
        self.wild: list[tuple[_Pattern, int]] = []          # every wildcard pattern
        self.prefix: dict[int, dict[str, list[tuple[_Pattern, int]]]] = {}   # len -> prefix ->
        self.suffix: dict[int, dict[str, list[tuple[_Pattern, int]]]] = {}
        self.other: list[tuple[_Pattern, int]] = []   # filed under a gram or by length
        self.cache: dict[str, int] = {}
        self._pfx_lens: list[tuple[int, dict[str, list[tuple[_Pattern, int]]]]] = []
        self._sfx_lens: list[tuple[int, dict[str, list[tuple[_Pattern, int]]]]] = []
        self._grams: list[dict[str, list[tuple[_Pattern, int]]]] = [{}, {}, {}]   # by k
        self._len_eq: dict[int, int] = {}       # "??": exact length -> mask
        self._len_min: list[int] = []           # "?*": sorted minimum lengths
        self._len_or: list[int] = []            # OR of the masks of _len_min[:i + 1]
        self._scan: list[tuple[_Pattern, int]] = []   # no key at all: checked one by one

    def add(self, pat: _Pattern, bit: int) -> None:
        if pat.kind == "exact":
            assert pat.literal is not None
            self.exact[pat.literal] = self.exact.get(pat.literal, 0) | bit
            return
        self.wild.append((pat, bit))

    @staticmethod
    def _run_grams(run: str) -> list[str]:
        # a run's k-grams (substrings of length k = min(3, len(run)))
        k = min(3, len(run))
        return [run[j:j + k] for j in range(len(run) - k + 1)]

    def freeze(self) -> None:
        self.prefix, self.suffix, self.other = {}, {}, []
        self._grams = [{}, {}, {}]
        self._len_eq, self._scan = {}, []
        mins: dict[int, int] = {}
        freq: dict[Any, int] = {}
        keys = []
        # equal patterns (one regex) are checked once for all their rules' bits
        merged: dict[str, tuple[_Pattern, int]] = {}
        for pat, bit in self.wild:
            assert pat.regex is not None
            rx = pat.regex.__self__.pattern              # type: ignore[attr-defined]
            old = merged.get(rx)
            merged[rx] = (pat, bit if old is None else old[1] | bit)
        wild = list(merged.values())
        for pat, _ in wild:
            ks = set()
            if pat.prefix:
                ks.add(("p", pat.prefix))
            if pat.suffix:
                ks.add(("s", pat.suffix))
            if pat.runs:
                k = min(3, max(len(r) for r in pat.runs))
                ks.update(("g", g) for r in pat.runs if len(r) >= k
                          for g in self._run_grams(r))
            keys.append(ks)
            for key in ks:
                freq[key] = freq.get(key, 0) + 1
        few = sum(1 for ks in keys if ks and min(
            ks, key=lambda x: (freq[x], x[0] == "g", repr(x[1])))[0] == "g") <= _SCAN_MAX
        for (pat, bit), ks in zip(wild, keys):
            if ks:
                # fewest patterns sharing the key; prefix/suffix first on a tie (one
                # slice per length to look it up, where grams need the value's grams)
                kind, key = min(ks, key=lambda x: (freq[x], x[0] == "g", repr(x[1])))
                if kind == "p":
                    self.prefix.setdefault(len(key), {}).setdefault(key, []).append((pat, bit))
                elif kind == "s":
                    self.suffix.setdefault(len(key), {}).setdefault(key, []).append((pat, bit))
                elif few:           # a handful: checking them beats building grams
                    self.other.append((pat, bit))
                    self._scan.append((pat, bit))
                else:
                    self.other.append((pat, bit))
                    self._grams[len(key) - 1].setdefault(key, []).append((pat, bit))
                continue
            self.other.append((pat, bit))
            if pat.pure is not None:
                q, star = pat.pure
                if star:
                    mins[q] = mins.get(q, 0) | bit
                else:
                    self._len_eq[q] = self._len_eq.get(q, 0) | bit
            else:
                self._scan.append((pat, bit))
        self._pfx_lens = sorted(self.prefix.items())
        self._sfx_lens = sorted(self.suffix.items())
        self._len_min = sorted(mins)
        acc, self._len_or = 0, []
        for q in self._len_min:
            acc |= mins[q]
            self._len_or.append(acc)

    def _other_mask(self, value: str, m: int) -> int:
        n = len(value)
        for k, d in enumerate(self._grams, 1):
            if not d or n < k:
                continue
            get = d.get
            for j in range(n - k + 1):
                entries = get(value[j:j + k])
                if entries:
                    for pat, bit in entries:
                        # every literal run is in the value (a substring test in C)
                        # before the full match
                        if (m & bit != bit and all(r in value for r in pat.runs)
                                and pat.match_candidate(value)):
                            m |= bit
        m |= self._len_eq.get(n, 0)
        if self._len_min:
            i = bisect.bisect_right(self._len_min, n)
            if i:
                m |= self._len_or[i - 1]
        for pat, bit in self._scan:
            if m & bit != bit and pat.match_candidate(value):
                m |= bit
        return m

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
                    if m & bit != bit and pat.match_candidate(value):
                        m |= bit
        for ln, d in self._sfx_lens:
            if ln > n:
                break
            entries = d.get(value[n - ln:])
            if entries:
                for pat, bit in entries:
                    if m & bit != bit and pat.match_candidate(value):
                        m |= bit
        if self.other:
            m = self._other_mask(value, m)
        if len(self.cache) >= _CACHE_MAX:
            self.cache.clear()
        self.cache[value] = m
        return m


# ------------------------------------------------------------------ regexes
_QUANT_START = "*+?{"


def _quantifier_end(p: str, i: int) -> int:
    """If a quantifier starts at ``p[i]``, the index just after it (else -1)."""
    if i >= len(p):
        return -1
    c = p[i]
    if c in "*+?":
        return i + 1
    if c == "{":
        m = re.match(r"\{\d*(?:,\d*)?\}", p[i:])
        if m and m.group() not in ("{}", "{,}"):
            return i + len(m.group())
    return -1


def check_regex(pattern: object, where: str, max_len: int = MAX_STRING) -> str:
    """Validate one ``RegexValues`` / ``Regex`` string: a non-empty str of at
    most ``max_len`` characters, without the features the ALB guide says rule
    regexes do not support (lookaheads, lookbehinds, backreferences, atomic
    groups, possessive quantifiers, subroutines, recursion, Unicode character
    classes), that compiles. ValueError naming ``where`` otherwise."""
    if not isinstance(pattern, str) or not pattern:
        raise ValueError(f"{where} must be a non-empty string, got {pattern!r}")
    if len(pattern) > max_len:
        raise ValueError(f"{where}: {pattern[:20]!r}... is longer than {max_len} characters")

    def bad(feature: str) -> ValueError:
        return ValueError(f"{where}: {pattern!r} uses {feature}, which ALB rule regular "
                          f"expressions do not support")
    p, i, n = pattern, 0, len(pattern)
    in_class = False
    while i < n:
        c = p[i]
        atom_end = -1
        if c == "\\":
            nx = p[i + 1] if i + 1 < n else ""
            if nx in ("p", "P", "X"):
                raise bad("a Unicode character class (\\p{...}, \\P{...}, \\X)")
            if not in_class:
                if nx in "123456789" and nx:
                    raise bad("a backreference")
                if nx == "k":
                    raise bad("a backreference")
                if nx == "g":
                    raise bad("a backreference or subroutine call (\\g)")
            i += 2
            atom_end = i
        elif in_class:
            if c == "]":
                in_class = False
                atom_end = i + 1
            i += 1
            if atom_end < 0:
                continue
        elif c == "[":
            in_class = True
            i += 1
            if i < n and p[i] == "^":
                i += 1
            if i < n and p[i] == "]":       # a leading "]" is a literal
                i += 1
            continue
        elif c == "(":
            head = p[i:i + 4]
            if head.startswith(("(?=", "(?!")):
                raise bad("a lookahead")
            if head.startswith(("(?<=", "(?<!")):
                raise bad("a lookbehind")
            if head.startswith("(?>"):
                raise bad("an atomic group")
            if head.startswith("(?P="):
                raise bad("a backreference")
            if re.match(r"\(\?(?:R|[+-]?\d|&|P>)", p[i:]):
                raise bad("recursion or a subroutine call")
            i += 1
            continue
        elif c in _QUANT_START:
            q = _quantifier_end(p, i)
            if q >= 0:
                if q < n and p[q] == "+":
                    raise bad("a possessive quantifier")
                i = q + 1 if q < n and p[q] == "?" else q
                continue
            i += 1
            continue
        else:
            i += 1
            atom_end = i
        if in_class:
            continue
        # an atom ended at atom_end: a quantifier may follow
        q = _quantifier_end(p, atom_end)
        if q >= 0:
            if q < n and p[q] == "+":
                raise bad("a possessive quantifier")
            i = q + 1 if q < n and p[q] == "?" else q
    try:
        re.compile(pattern)
    except re.error as e:
        raise ValueError(f"{where}: {pattern!r} is not a valid regular expression ({e})") from None
    return pattern


# ------------------------------------------------------------------ conditions
class Condition:
    """One rule condition. ``field`` is the elbv2 ``Field``; ``values`` the
    normalized comparison values: strings (host-header lower-cased),
    ``(key or None, value)`` pairs for query-string, ip networks for
    source-ip; ``header_name`` (lower-case) for http-header. ``regex``: the
    condition's ``RegexValues`` (host-header, path-pattern, http-header; then
    ``values`` is empty): regular expressions searched in the host header
    (case-insensitive), the path, or each value of the header."""

    __slots__ = ("field", "values", "header_name", "raw", "regex")

    def __init__(self, field: str, values: Iterable[Any], header_name: str | None = None,
                 raw: Mapping[str, Any] | None = None, regex: Iterable[str] = ()) -> None:
        self.field = field
        self.values = tuple(values)
        self.header_name = header_name
        self.raw = raw
        self.regex = tuple(regex)

    def evaluations(self) -> int:
        """Match evaluations in the condition (values and regexes: the elbv2
        limits count them, 3 per condition and 5 per rule)."""
        return len(self.values) + len(self.regex)

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
        if self.regex:
            return f"Condition({self.field}{h} ~ {list(self.regex)!r})"
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
    if len(values) > MAX_VALUES_PER_CONDITION:
        raise ValueError(f"{where}: {len(values)} match evaluations, at most "
                         f"{MAX_VALUES_PER_CONDITION} per condition")
    return list(values)


def _check_host_value(v: str, where: str) -> None:
    if not _HOST_CHARS.match(v):
        raise ValueError(f"{where}: invalid host name pattern {v!r} "
                         f"(A-Z a-z 0-9 - . * ? only)")
    if "." not in v:
        raise ValueError(f"{where}: host name pattern {v!r} must include at least one '.'")
    if not _HOST_TLD.match(v.rsplit(".", 1)[1]):
        raise ValueError(f"{where}: host name pattern {v!r} may have only letters after "
                         f"the last '.'")


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
    config = cond.get(key)
    legacy = cond.get("Values")
    legacy_rx = cond.get("RegexValues")
    if legacy_rx is not None and field not in _REGEX_FIELDS:
        raise ValueError(f"{where}.RegexValues is only allowed for host-header, path-pattern "
                         f"and http-header")
    if legacy is not None:
        if field not in ("host-header", "path-pattern"):
            raise ValueError(f"{where}.Values is only allowed for host-header and path-pattern; "
                             f"use {key}")
        if not isinstance(legacy, (list, tuple)) or len(legacy) != 1:
            raise ValueError(f"{where}.Values takes a single value (for several, use "
                             f"{key}.Values), got {legacy!r}")
    if config is None:
        if legacy is None and legacy_rx is None:
            raise ValueError(f"{where}: {key} is required for Field {field!r}")
        if field == "http-header":
            raise ValueError(f"{where}: {key} is required for Field {field!r}")
        config = {}
        if legacy is not None:
            config["Values"] = legacy
        if legacy_rx is not None:
            config["RegexValues"] = legacy_rx
        cwhere = f"{where}.Values"
    else:
        if not isinstance(config, dict):
            raise ValueError(f"{where}.{key} must be a dict")
        cwhere = f"{where}.{key}.Values"
        if legacy and legacy != config.get("Values"):
            raise ValueError(f"{where}: Values and {key}.Values differ")
        if legacy_rx is not None:
            if config.get("RegexValues") not in (None, legacy_rx):
                raise ValueError(f"{where}: RegexValues and {key}.RegexValues differ")
            config = {**config, "RegexValues": legacy_rx}
    regex: list[str] = []
    if field in _REGEX_FIELDS and config.get("RegexValues") is not None:
        rwhere = f"{where}.{key}.RegexValues" if key in cond else f"{where}.RegexValues"
        if config.get("Values") is not None:
            raise ValueError(f"{rwhere}: a condition takes Values or RegexValues, not both")
        rx = _str_list(config["RegexValues"], rwhere)
        regex = [check_regex(r, f"{rwhere}[{j}]") for j, r in enumerate(rx)]
    if field == "host-header":
        if regex:
            return Condition(field, (), raw=cond, regex=regex)
        vals = _str_list(config.get("Values"), cwhere)
        for v in vals:
            _check_host_value(v, cwhere)
        return Condition(field, [v.lower() for v in vals], raw=cond)
    if field == "path-pattern":
        if regex:
            return Condition(field, (), raw=cond, regex=regex)
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
        nwhere = f"{where}.{key}.HttpHeaderName"
        if isinstance(name, str) and ("*" in name or "?" in name):
            raise ValueError(f"{nwhere}: wildcards are not supported in a header name, "
                             f"got {name!r}")
        if not isinstance(name, str) or not _TOKEN.match(name) or len(name) > 40:
            raise ValueError(f"{nwhere} must be a header name "
                             f"(token, at most 40 characters), got {name!r}")
        if name.lower() == "host":
            raise ValueError(f"{nwhere}: an http-header condition can't match the Host "
                             f"header; use a host-header condition")
        if regex:
            return Condition(field, (), header_name=name.lower(), raw=cond, regex=regex)
        vals = _str_list(config.get("Values"), cwhere)
        return Condition(field, [v.lower() for v in vals], header_name=name.lower(), raw=cond)
    if field == "query-string":
        items = config.get("Values")
        if not isinstance(items, (list, tuple)) or not items:
            raise ValueError(f"{cwhere} must be a non-empty list of {{Key, Value}}")
        if len(items) > MAX_VALUES_PER_CONDITION:
            raise ValueError(f"{cwhere}: {len(items)} match evaluations, at most "
                             f"{MAX_VALUES_PER_CONDITION} per condition")
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
            net = ipaddress.ip_network(v, strict=False)
        except ValueError:
            raise ValueError(f"{cwhere}: {v!r} is not a valid IPv4/IPv6 CIDR") from None
        if net == _BROADCAST:
            raise ValueError(f"{cwhere}: 255.255.255.255/32 is not supported in a source-ip "
                             f"condition")
        nets.append(net)
    return Condition(field, nets, raw=cond)


# ------------------------------------------------------------------ rules
class Rule:
    """A listener rule: ``priority`` (int 1–50000, None for the default rule),
    ``conditions`` (list of :class:`Condition`), ``action`` (the parsed
    terminal action: the ALB's parsed action), ``arn``, ``transforms`` (the
    rule's :class:`Transforms`, None without any)."""

    __slots__ = ("priority", "conditions", "action", "arn", "raw", "transforms")

    def __init__(self, priority: int | None, conditions: list[Condition], action: Any = None,
                 arn: str | None = None, raw: Mapping[str, Any] | None = None,
                 transforms: Transforms | None = None) -> None:
        self.priority = priority
        self.conditions = conditions
        self.action = action
        self.arn = arn
        self.raw = raw
        self.transforms = transforms

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
    nvals = sum(c.evaluations() for c in conds)
    if nvals > MAX_VALUES_PER_RULE:
        raise ValueError(f"{where}.Conditions: {nvals} condition values, at most "
                         f"{MAX_VALUES_PER_RULE} per rule (values and regexes are match "
                         f"evaluations)")
    nwild = sum(c.wildcards() for c in conds)
    if nwild > MAX_WILDCARDS_PER_RULE:
        raise ValueError(f"{where}.Conditions: {nwild} wildcards, at most "
                         f"{MAX_WILDCARDS_PER_RULE} per rule")
    transforms = parse_transforms(rule.get("Transforms"), f"{where}.Transforms",
                                  is_default=prio is None)
    actions = rule.get("Actions")
    action = action_parser(actions, where) if action_parser else actions
    return Rule(prio, conds, action, rule.get("RuleArn"), rule, transforms)


# ------------------------------------------------------------------ transforms
MAX_REWRITE_STRING = 1024
_GROUP_REF = re.compile(r"\$(\d+)")


class Rewrite:
    """One ``RewriteConfig``: ``regex`` searched in the input (the first match
    is replaced) and ``replace`` with ``$1``, ``$2``... capture-group references."""

    __slots__ = ("regex", "replace", "_search", "_parts")

    def __init__(self, regex: str, replace: str, ignore_case: bool = False) -> None:
        self.regex, self.replace = regex, replace
        compiled = re.compile(regex, re.IGNORECASE if ignore_case else 0)
        self._search = compiled.search
        parts: list[str | int] = []
        pos = 0
        for m in _GROUP_REF.finditer(replace):
            parts.append(replace[pos:m.start()])
            parts.append(int(m.group(1)))
            pos = m.end()
        parts.append(replace[pos:])
        self._parts = parts
        worst = max((p for p in parts if isinstance(p, int)), default=0)
        if worst > compiled.groups:
            raise ValueError(f"${worst} but the regex has {compiled.groups} capture group(s)")

    def apply(self, text: str) -> str | None:
        """``text`` rewritten, or None when the regex does not match it."""
        m = self._search(text)
        if m is None:
            return None
        out = [p if isinstance(p, str) else (m.group(p) or "") for p in self._parts]
        return text[:m.start()] + "".join(out) + text[m.end():]


class Transforms:
    """A rule's ``Transforms``: at most one ``host-header-rewrite`` (``host``)
    and one ``url-rewrite`` (``url``), each a list of :class:`Rewrite` applied in
    order. :meth:`apply` gives the request the target receives."""

    __slots__ = ("host", "url")

    def __init__(self, host: Sequence[Rewrite] = (), url: Sequence[Rewrite] = ()) -> None:
        self.host, self.url = tuple(host), tuple(url)

    @staticmethod
    def _run(rewrites: Sequence[Rewrite], text: str) -> tuple[str, bool]:
        hit = False
        for rw in rewrites:
            out = rw.apply(text)
            if out is not None:
                text, hit = out, True
        return text, hit

    def apply(self, request: Request) -> Request | None:
        """The rewritten request; ``request`` itself when no rewrite's pattern
        matched; None when a pattern matched but the result is not a valid
        host or request target (the load balancer answers 500)."""
        host, url = request.host, request.path
        if request.query_string:
            url = f"{url}?{request.query_string}"
        new_host, host_hit = self._run(self.host, host) if host is not None else (host, False)
        new_url, url_hit = self._run(self.url, url)
        if not host_hit and not url_hit:
            return request
        if host_hit and (not new_host or any(c.isspace() or ord(c) < 32 or ord(c) == 127
                                             for c in new_host)):
            return None
        if url_hit and (not new_url.startswith("/") or "#" in new_url
                        or any(ord(c) <= 32 or ord(c) == 127 for c in new_url)):
            return None
        headers = [(n, v) for n, v in request.headers]
        if host_hit:
            headers = [(n, new_host if n.lower() == "host" else v) for n, v in headers]
        cookies = {k: v for k, v in request.cookies.items()}
        try:
            return Request(request.method, new_url, host=new_host, headers=headers,
                           source_ip=request.source_ip, protocol=request.protocol,
                           port=request.port, cookies=cookies or None)
        except ValueError:
            return None

    def __repr__(self) -> str:
        return f"Transforms(host={len(self.host)}, url={len(self.url)})"


_TRANSFORM_CONFIG = {"host-header-rewrite": "HostHeaderRewriteConfig",
                     "url-rewrite": "UrlRewriteConfig"}


def parse_transforms(items: Any, where: str = "Transforms",
                     is_default: bool = False) -> Transforms | None:
    """Validate a rule's ``Transforms`` (a list of ``RuleTransform`` dicts, or
    None) → :class:`Transforms` (None when there are none)."""
    if items is None or (isinstance(items, (list, tuple)) and not items):
        return None
    if not isinstance(items, (list, tuple)):
        raise ValueError(f"{where} must be a list")
    if is_default:
        raise ValueError(f"{where}: the default rule can't have transforms")
    found: dict[str, list[Rewrite]] = {}
    for i, t in enumerate(items):
        tw = f"{where}[{i}]"
        if not isinstance(t, dict):
            raise ValueError(f"{tw} must be a dict")
        typ = t.get("Type")
        if typ not in _TRANSFORM_CONFIG:
            raise ValueError(f"{tw}.Type must be host-header-rewrite or url-rewrite, got {typ!r}")
        key = _TRANSFORM_CONFIG[typ]
        for k in t:
            if k not in ("Type", key):
                raise ValueError(f"{tw}: unexpected key {k!r} for Type {typ!r}")
        if typ in found:
            raise ValueError(f"{tw}: a second {typ} transform (one of each type per rule)")
        cfg = t.get(key)
        if not isinstance(cfg, dict) or set(cfg) - {"Rewrites"}:
            raise ValueError(f"{tw}.{key} must be a dict with Rewrites")
        rws = cfg.get("Rewrites")
        if not isinstance(rws, (list, tuple)) or not rws:
            raise ValueError(f"{tw}.{key}.Rewrites must be a non-empty list")
        out = []
        for j, rw in enumerate(rws):
            rwhere = f"{tw}.{key}.Rewrites[{j}]"
            if not isinstance(rw, dict) or set(rw) != {"Regex", "Replace"}:
                raise ValueError(f"{rwhere} must be a dict with Regex and Replace")
            rx = check_regex(rw["Regex"], f"{rwhere}.Regex", MAX_REWRITE_STRING)
            rep = rw["Replace"]
            if not isinstance(rep, str) or len(rep) > MAX_REWRITE_STRING:
                raise ValueError(f"{rwhere}.Replace must be a string of at most "
                                 f"{MAX_REWRITE_STRING} characters")
            try:
                out.append(Rewrite(rx, rep, ignore_case=typ == "host-header-rewrite"))
            except ValueError as e:
                raise ValueError(f"{rwhere}.Replace: {e}") from None
        found[typ] = out
    return Transforms(found.get("host-header-rewrite", ()), found.get("url-rewrite", ()))


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


_RX_META = frozenset(".^$*+?{}[]()|\\")
_RX_QUANT = frozenset("*+?{")
_RX_INLINE_FLAGS = re.compile(r"\(\?[aiLmsux-]")


def _rx_top_level_alternation(pattern: str) -> bool:
    """Whether ``pattern`` has a ``|`` outside every group and character class."""
    depth, i, n = 0, 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":                          # skip the class: "[]a]", "[^]a]" included
            i += 1
            if i < n and pattern[i] == "^":
                i += 1
            if i < n and pattern[i] == "]":
                i += 1
            while i < n and pattern[i] != "]":
                i += 2 if pattern[i] == "\\" else 1
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            return True
        i += 1
    return False


def _rx_anchored_prefix(pattern: str) -> str:
    """The literal text every match of ``pattern`` starts the value with ("" when there
    is none): the literals right after a leading ``^`` (escaped punctuation included),
    up to the first metacharacter, without a last literal a quantifier makes
    optional. A top-level alternation or an inline flag gives ""."""
    if not pattern.startswith("^") or _RX_INLINE_FLAGS.search(pattern) \
            or _rx_top_level_alternation(pattern):
        return ""
    out: list[str] = []
    i, n = 1, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            if i + 1 >= n or pattern[i + 1].isalnum() or not pattern[i + 1].isascii():
                break                          # \d, \b, \1, ...: not a literal
            lit, step = pattern[i + 1], 2
        elif c in _RX_META:
            break
        else:
            lit, step = c, 1
        if i + step < n and pattern[i + step] in _RX_QUANT:
            break                              # "ab?", "ab*", "ab{0,1}": b is optional
        out.append(lit)
        i += step
    return "".join(out)


class _RegexIndex:
    """value -> OR of the masks of the regexes found in it. A regex anchored at the
    start with literal text (``^/api/v7/...``) is tested only when the value starts
    with that text: one dict lookup per distinct prefix length finds the candidates
    (as :class:`_PatternIndex` does for wildcards); other regexes are searched one by
    one. A bounded cache of value -> mask. (One combined pattern of all the slot's
    regexes, the earlier design, cost O(regexes^2) per value in ``re``: 35 ms per
    uncached value at 1,000 rules; docs/performance.md, "RegexValues rules".)"""

    __slots__ = ("ignore_case", "patterns", "always", "by_prefix", "cache")

    def __init__(self, ignore_case: bool = False) -> None:
        self.ignore_case = ignore_case
        self.patterns: dict[str, int] = {}
        self.always: list[tuple[Callable[[str], Any], int]] = []
        # (prefix length, {prefix (ASCII-lower-cased when ignore_case): [(search, bit)]})
        self.by_prefix: list[tuple[int, dict[str, list[tuple[Callable[[str], Any], int]]]]] = []
        self.cache: dict[str, int] = {}

    def add(self, pattern: str, bit: int) -> None:
        self.patterns[pattern] = self.patterns.get(pattern, 0) | bit

    def freeze(self) -> None:
        flags = re.IGNORECASE if self.ignore_case else 0
        self.always = []
        tables: dict[int, dict[str, list[tuple[Callable[[str], Any], int]]]] = {}
        for p, bit in self.patterns.items():
            search = re.compile(p, flags).search
            prefix = _rx_anchored_prefix(p)
            if self.ignore_case:
                # between ASCII characters re's IGNORECASE is plain ASCII case folding;
                # a non-ASCII literal (e.g. "k" also matches KELVIN SIGN) is not indexed
                prefix = prefix.lower() if prefix.isascii() else ""
            if not prefix:
                self.always.append((search, bit))
                continue
            tables.setdefault(len(prefix), {}).setdefault(prefix, []).append((search, bit))
        self.by_prefix = sorted(tables.items())

    def match(self, value: str) -> int:
        m = self.cache.get(value)
        if m is not None:
            return m
        m = 0
        for search, bit in self.always:
            if search(value) is not None:
                m |= bit
        n = len(value)
        for length, table in self.by_prefix:
            if length > n:
                break
            head = value[:length]
            if self.ignore_case:
                if head.isascii():
                    cands = table.get(head.lower(), ())
                else:                          # IGNORECASE may fold it: test them all
                    cands = [c for cs in table.values() for c in cs]
            else:
                cands = table.get(head, ())
            for search, bit in cands:
                if search(value) is not None:
                    m |= bit
        if len(self.cache) >= _CACHE_MAX:
            self.cache.clear()
        self.cache[value] = m
        return m


_REGEX_KIND = {"host-header": "host~", "path-pattern": "path~", "http-header": "header~"}


def _slot_base(c: Condition) -> tuple[str, str | None]:
    """The slot family of a condition: (kind, header name or None)."""
    if c.regex:
        return (_REGEX_KIND[c.field], c.header_name)
    if c.field == "http-header":
        return ("header", c.header_name)
    if c.field == "query-string":
        return ("query", None)
    return (c.field, None)


class _Slot:
    __slots__ = ("kind", "name", "index", "free", "nets", "net_lens", "cache")

    def __init__(self, kind: str, name: str | None) -> None:
        self.kind = kind
        self.name = name
        self.index: Any
        if kind.endswith("~"):
            self.index = _RegexIndex(ignore_case=kind == "host~")
        else:
            self.index = _PatternIndex() if kind != "source-ip" else None
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
                base = _slot_base(c)
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
                elif c.regex:
                    for rx in c.regex:
                        slot.index.add(rx, bit)
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
        order = {"http-request-method": 0, "host-header": 1, "host~": 1, "path-pattern": 2,
                 "path~": 2, "source-ip": 3, "header": 4, "header~": 4, "query": 5}
        self._slots = sorted(slots.values(), key=lambda s: order[s.kind])
        self._evals = [self._evaluator(s) for s in self._slots]
        self.match = self._generate()

    @staticmethod
    def _rule_uses(rule: Rule, key: tuple[str, str | None, int]) -> bool:
        kind, name, k = key
        n = sum(1 for c in rule.conditions if _slot_base(c) == (kind, name))
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
        elif slot.kind == "host~":
            def ev(req: Request) -> int:
                h = req.host
                return free | index.match(h) if h is not None else free
        elif slot.kind == "path~":
            def ev(req: Request) -> int:
                return free | index.match(req.path)
        elif slot.kind == "header~":
            rname = slot.name or ""

            def ev(req: Request) -> int:
                m = free
                for v in req.headers.getall(rname):
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
