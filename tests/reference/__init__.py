"""Slow, obviously-correct pure-Python models of lbcore's kernels (one module per family)."""
