"""Lamping & Veach (2014) Figure 1 in Python, with explicit 64-bit wrap-around and
IEEE double arithmetic (Python floats are doubles)."""
U64 = (1 << 64) - 1


def jump_hash(key, num_buckets):
    b, j = -1, 0
    while j < num_buckets:
        b = j
        key = (key * 2862933555777941757 + 1) & U64
        j = int(float(b + 1) * (float(1 << 31) / float((key >> 33) + 1)))
    return b
