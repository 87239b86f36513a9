"""Deprecated module path: import from :mod:`lbcore.elb` (this module goes away in the
next release)."""
from __future__ import annotations

import warnings

from lbcore.elb._rules import (Condition, Rule, RuleSet, parse_rule, parse_condition,
                               wildcard_tokens, MAX_VALUES_PER_RULE, MAX_WILDCARDS_PER_RULE)

__all__ = ["Condition", "Rule", "RuleSet", "parse_rule", "parse_condition", "wildcard_tokens",
           "MAX_VALUES_PER_RULE", "MAX_WILDCARDS_PER_RULE"]

warnings.warn("lbcore.elb.rules is deprecated: import its names from lbcore.elb",
              DeprecationWarning, stacklevel=2)
