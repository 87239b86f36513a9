"""lbcore in real HTTP servers: adapters, what the ALB adds, health checks, the proxy.

* :func:`request_from_asgi`, :func:`request_from_aiohttp`: a server's request as a
  :class:`lbcore.elb.Request` on the trusted fast path (no re-validation), listener
  port and client address from the connection.
* :class:`routing`: ``async with routing(alb, request) as decision:`` completes the
  request on success, error and cancellation.
* :func:`upstream_url`, :func:`forwarded_headers` (X-Forwarded-For/-Proto/-Port,
  X-Amzn-Trace-Id), :func:`set_cookie_headers` (AWSALB... as the ALB writes them),
  :func:`render` (redirects and fixed responses as a :class:`Response`).
* :class:`HealthChecker` runs target groups' configured checks
  (:class:`HealthCheckConfig`) against real targets.
* :class:`ApiGatewayMiddleware`: API Gateway throttling (resources, ``x-api-key``,
  403 / 429 with ``Retry-After``) in front of an ASGI app; :func:`gateway_response`.
* :class:`Proxy` / ``lbcore proxy CONFIG.json``: a local ALB from AWS describe outputs
  (needs aiohttp: ``pip install 'lbcore[http]'``).

Guide: docs/http.md.
"""
from lbcore.http._apigateway import ApiGatewayMiddleware, gateway_response
from lbcore.http._adapters import request_from_aiohttp, request_from_asgi, routing
from lbcore.http._health import USER_AGENT, HealthCheckConfig, HealthChecker
from lbcore.http._proxy import (Proxy, ProxyConfig, access_log_line, error_page, load_config,
                                load_config_file)
from lbcore.http._render import (Response, forwarded_headers, render, set_cookie_headers,
                                 trace_id, upstream_url)

__all__ = ["request_from_asgi", "request_from_aiohttp", "routing", "upstream_url",
           "forwarded_headers", "set_cookie_headers", "trace_id", "render", "Response",
           "HealthCheckConfig", "HealthChecker", "USER_AGENT", "Proxy", "ProxyConfig",
           "load_config", "load_config_file", "access_log_line", "error_page", "EXAMPLE_CONFIG",
           "ApiGatewayMiddleware", "gateway_response"]

import os as _os

#: the path of the example CONFIG shipped with lbcore (docs/http.md)
EXAMPLE_CONFIG = _os.path.join(_os.path.dirname(__file__), "example.json")
