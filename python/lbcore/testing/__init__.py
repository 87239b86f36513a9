"""Testing helpers for users of lbcore: ``lbcore.testing.strategies`` (needs hypothesis)."""
