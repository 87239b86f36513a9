"""An API's resource tree: real request paths to resource templates, as API Gateway
REST APIs match them.

Resources are paths of literal parts, path variables (``{id}``: one path segment) and a
greedy path variable (``{proxy+}``: one or more trailing segments; it must be the last
part). Each resource has methods (``GET``, ..., or ``ANY``, which matches every method
the resource does not define itself), each of which may require an API key
(``apiKeyRequired``). A request path is matched segment by segment from the left, a
literal part before a path variable before a greedy variable, so the most specific
resource wins (``/pets/dog`` over ``/pets/{id}`` over ``/{proxy+}``); the method is
the request's own, else ``ANY``; a resource without the method (or ANY) is passed over,
as API Gateway's route selection passes to a greedy route. docs/throttling.md,
"Resources".
"""
from __future__ import annotations

import re
from typing import Any, Mapping, NamedTuple

__all__ = ["Resources", "Match", "HTTP_METHODS"]

HTTP_METHODS = frozenset({"GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS",
                          "ANY"})
_VAR = re.compile(r"\{([A-Za-z0-9._-]+)(\+?)\}")
_LITERAL = re.compile(r"[A-Za-z0-9._~:@!$&'()*,;=%-]+")   # no braces, no slash
_CACHE_MAX = 4096          # matched paths remembered (bounded: cleared when full)


class Match(NamedTuple):
    """A path matched to ``template`` whose ``method`` (the request's or ``ANY``)
    decides it; ``api_key_required`` as configured on that method."""

    template: str
    method: str
    api_key_required: bool


class _Node:
    __slots__ = ("lit", "var", "var_name", "greedy", "template", "methods")

    def __init__(self) -> None:
        self.lit: dict[str, _Node] = {}
        self.var: _Node | None = None
        self.var_name: str | None = None
        self.greedy: _Node | None = None
        self.template: str | None = None
        self.methods: dict[str, bool] = {}       # METHOD -> api key required


def _methods(spec: Any, template: str) -> dict[str, bool]:
    """{METHOD: api key required} from "GET", ["GET", "POST"], {"GET": True} or
    get_resources' {"GET": {"apiKeyRequired": True, ...}}."""
    if isinstance(spec, str):
        spec = [spec]
    if isinstance(spec, Mapping):
        items = list(spec.items())
    elif isinstance(spec, (list, tuple, set, frozenset)):
        items = [(m, False) for m in spec]
    else:
        raise TypeError(f"resources[{template!r}] must be a method, a list of methods or "
                        f"a mapping of method to settings, got {type(spec).__name__}")
    out: dict[str, bool] = {}
    for m, v in items:
        if not isinstance(m, str) or m.upper() not in HTTP_METHODS:
            raise ValueError(f"resources[{template!r}]: unknown HTTP method {m!r}")
        if isinstance(v, Mapping):
            v = v.get("apiKeyRequired", False)
        if not isinstance(v, bool):
            raise TypeError(f"resources[{template!r}][{m!r}]: apiKeyRequired must be a "
                            f"bool, got {type(v).__name__}")
        if m.upper() in out:
            raise ValueError(f"resources[{template!r}]: method {m.upper()} given twice")
        out[m.upper()] = v
    return out


class Resources:
    """The resources of one API: ``{"/pets": ["GET", "POST"], "/pets/{id}": {"GET":
    {"apiKeyRequired": True}}, "/{proxy+}": "ANY"}``, or the ``items`` of
    ``apigateway.get_resources`` (``path`` and ``resourceMethods``; items without
    methods are intermediate resources). :meth:`match` maps a request path and method
    to the deciding resource and method (a :class:`Match`), or None (no resource with
    that method: API Gateway answers 403 "Missing Authentication Token"). Matches are
    remembered per (path, method), at most 4,096 (then forgotten all at once)."""

    def __init__(self, resources: Any) -> None:
        if isinstance(resources, Mapping):
            items = list(resources.items())
        elif isinstance(resources, (list, tuple)):
            items = []
            for it in resources:
                if not isinstance(it, Mapping) or not isinstance(it.get("path"), str):
                    raise TypeError("resources: get_resources items need a 'path' str, "
                                    f"got {it!r}")
                items.append((it["path"], it.get("resourceMethods") or {}))
        else:
            raise TypeError(f"resources must be a mapping of template to methods or a "
                            f"list of get_resources items, got {type(resources).__name__}")
        self._root = _Node()
        self.templates: dict[str, dict[str, bool]] = {}
        self._keys: set[str] = set()           # "/template/METHOD" of every method
        for template, spec in items:
            node = self._insert(template)
            ms = _methods(spec, template)
            if node.template is not None and (ms or node.methods):
                raise ValueError(f"resources: resource {template!r} given twice")
            node.template = template
            node.methods = ms
            if ms:
                self.templates[template] = ms
                self._keys.update(f"{template}/{m}" for m in ms)
        self._cache: dict[tuple[str, str], Match | None] = {}

    def _insert(self, template: Any) -> _Node:
        if not isinstance(template, str):
            raise TypeError(f"resources: a resource template must be a str, got "
                            f"{type(template).__name__}")
        if not template.startswith("/") or (template != "/" and template.endswith("/")) \
                or "//" in template:
            raise ValueError(f"resources: template {template!r} must be '/' or "
                             f"'/part/part...' (no empty parts)")
        node = self._root
        parts = [] if template == "/" else template[1:].split("/")
        for i, part in enumerate(parts):
            m = _VAR.fullmatch(part)
            if m is None:
                if not _LITERAL.fullmatch(part):
                    raise ValueError(f"resources: template {template!r}: bad part {part!r}")
                node = node.lit.setdefault(part, _Node())
            elif m.group(2):
                if i != len(parts) - 1:
                    raise ValueError(f"resources: template {template!r}: a greedy path "
                                     f"variable must be the last part")
                if node.greedy is None:
                    node.greedy = _Node()
                node = node.greedy
            else:
                if node.var is None:
                    node.var, node.var_name = _Node(), m.group(1)
                elif node.var_name != m.group(1):
                    raise ValueError(f"resources: template {template!r}: a sibling path "
                                     f"variable {{{node.var_name}}} exists (one per level)")
                node = node.var
        return node

    def __len__(self) -> int:
        return len(self.templates)

    def has_method(self, key: str) -> bool:
        """Whether ``"/template/METHOD"`` is a method of these resources."""
        return key in self._keys

    def match(self, path: str, method: str) -> Match | None:
        """The resource and method deciding a request: the most specific resource
        matching ``path`` (a request path: percent-encoded as sent, no query string)
        that has ``method`` or ANY, and that method (its own before ANY); None when
        there is none."""
        if not isinstance(method, str):
            raise TypeError(f"method must be a str, got {type(method).__name__}")
        cache = self._cache
        try:
            return cache[(path, method)]
        except (KeyError, TypeError):
            pass
        if not isinstance(path, str):
            raise TypeError(f"path must be a str, got {type(path).__name__}")
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/', got {path!r}")
        m = method.upper()
        out = None
        if m != "ANY" and m in HTTP_METHODS:        # no request has the method ANY
            segs = [] if path == "/" else path[1:].split("/")
            if len(segs) > 1 and segs[-1] == "":    # "/pets/" is "/pets"
                segs.pop()
            node = _walk(self._root, segs, 0, m)
            if node is not None:
                dm = m if m in node.methods else "ANY"
                out = Match(node.template, dm, node.methods[dm])   # type: ignore[arg-type]
        if len(cache) >= _CACHE_MAX:
            cache.clear()
        cache[(path, method)] = out
        return out


def _has(node: _Node, m: str) -> bool:
    return m in node.methods or "ANY" in node.methods


def _walk(node: _Node, segs: list[str], i: int, m: str) -> _Node | None:
    """Most specific resource under ``node`` for ``segs[i:]`` that has method ``m`` or
    ANY: literal part, then path variable (a non-empty segment), then greedy variable
    (the rest, not all empty)."""
    if i == len(segs):
        return node if _has(node, m) else None
    seg = segs[i]
    child = node.lit.get(seg)
    if child is not None:
        r = _walk(child, segs, i + 1, m)
        if r is not None:
            return r
    if node.var is not None and seg:
        r = _walk(node.var, segs, i + 1, m)
        if r is not None:
            return r
    g = node.greedy
    if g is not None and _has(g, m) and any(segs[i:]):
        return g
    return None
