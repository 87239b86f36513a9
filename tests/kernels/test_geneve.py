"""GENEVE (RFC 8926) encode/decode: round trips, the reference model, the AWS
GWLB TLVs, malformed input, and the numba bindings."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from lbcore import geneve
from reference import geneve_ref as ref

options_st = st.lists(
    st.builds(geneve.GeneveOption, st.integers(0, 0xFFFF), st.integers(0, 0xFF),
              st.integers(0, 31).flatmap(lambda w: st.binary(min_size=4 * w, max_size=4 * w))),
    max_size=6).filter(lambda os: sum(4 + len(o.data) for o in os) <= 252)


@settings(max_examples=300, deadline=None)
@given(payload=st.binary(max_size=64), vni=st.integers(0, 2**24 - 1),
       protocol=st.integers(0, 0xFFFF), options=options_st, oam=st.booleans())
def test_round_trip_and_reference(payload, vni, protocol, options, oam):
    crit = any(o.critical for o in options)
    pkt = geneve.encode(payload, vni=vni, protocol=protocol, options=options, oam=oam)
    assert pkt == ref.encode(payload, vni, protocol,
                             [(o.option_class, o.type, o.data) for o in options], oam, crit)
    h = geneve.decode(pkt, strict=True)
    assert (h.vni, h.protocol, h.oam, h.critical, h.version) == (vni, protocol, oam, crit, 0)
    assert list(h.options) == list(options)
    assert pkt[h.length:] == payload
    assert geneve.header_length(pkt) == h.length
    assert geneve.decode(bytearray(pkt)).options == h.options
    assert geneve.decode(memoryview(pkt)).vni == vni


def _compare_with_reference(data, strict):
    try:
        expected = ref.decode(data, strict)
    except ValueError:
        with pytest.raises(ValueError, match="data"):
            geneve.decode(data, strict=strict)
        return False
    h = geneve.decode(data, strict=strict)
    oam, crit, protocol, vni, options, length = expected
    assert (h.oam, h.critical, h.protocol, h.vni, h.length) == (oam, crit, protocol, vni, length)
    assert [(o.option_class, o.type, o.data) for o in h.options] == options
    return True


@settings(max_examples=1500, deadline=None)
@given(data=st.binary(max_size=80), strict=st.booleans())
def test_fuzz_random_bytes_matches_reference(data, strict):
    _compare_with_reference(data, strict)


@settings(max_examples=500, deadline=None)
@given(data=st.binary(min_size=8, max_size=80), strict=st.booleans())
def test_fuzz_version_zero_bytes(data, strict):
    # Force version 0 so the fuzzing reaches the option walk.
    data = bytes([data[0] & 0x3F]) + data[1:]
    _compare_with_reference(data, strict)


@settings(max_examples=200, deadline=None)
@given(options=options_st.filter(bool), cut=st.integers(1, 300))
def test_truncation_always_rejected(options, cut):
    pkt = geneve.encode(b"", options=options)
    cut = min(cut, len(pkt))
    with pytest.raises(ValueError, match="data"):
        geneve.decode(pkt[:len(pkt) - cut])


def test_malformed_cases():
    good = geneve.encode(b"", vni=7, options=geneve.gwlb_options(1, 2, 3))
    with pytest.raises(ValueError, match="truncated"):
        geneve.decode(b"\x00" * 7)
    with pytest.raises(ValueError, match="version"):
        geneve.decode(bytes([0x40]) + good[1:])
    with pytest.raises(ValueError, match="Opt Len"):
        geneve.decode(bytes([good[0] + 1]) + good[1:])
    # option length past the end of the option area
    bad = bytearray(good)
    bad[8 + 3] = 0x1F  # 124 data bytes: past the 32-byte option area
    with pytest.raises(ValueError, match="option's length"):
        geneve.decode(bytes(bad))
    # reserved bits: ignored on receipt (RFC 8926), rejected in strict mode
    for i, bit in ((1, 0x01), (7, 0xFF), (8 + 3, 0x20)):
        bad = bytearray(good)
        bad[i] |= bit
        assert geneve.decode(bytes(bad)).vni == 7
        with pytest.raises(ValueError, match="reserved"):
            geneve.decode(bytes(bad), strict=True)
    with pytest.raises(TypeError, match="data"):
        geneve.decode("not bytes")


def test_aws_gwlb_tlvs_layout():
    # AWS blog "Integrate your custom logic or appliance with AWS Gateway Load Balancer":
    # class 0x0108, type 1 = 64-bit endpoint ID, type 2 = 64-bit attachment ID,
    # type 3 = 32-bit flow cookie; GWLB's documented GENEVE overhead is 68 bytes
    # = 20 (IPv4) + 8 (UDP) + 40 (this header with the three TLVs).
    pkt = geneve.encode_gwlb(b"", endpoint_id=0x0102030405060708,
                             attachment_id=0x1112131415161718, flow_cookie=0xCAFEF00D)
    assert 20 + 8 + len(pkt) == 68
    assert pkt[8:20] == bytes.fromhex("01080102" "0102030405060708")
    assert pkt[20:32] == bytes.fromhex("01080202" "1112131415161718")
    assert pkt[32:40] == bytes.fromhex("01080301" "cafef00d")
    h = geneve.decode(pkt)
    assert h.protocol == geneve.PROTOCOL_IPV4 and h.vni == 0
    assert h.gwlb_endpoint_id == 0x0102030405060708
    assert h.gwlb_attachment_id == 0x1112131415161718
    assert h.gwlb_flow_cookie == 0xCAFEF00D
    assert h.option(0x0108, 3) == bytes.fromhex("cafef00d")
    assert geneve.decode(geneve.encode(b"")).gwlb_flow_cookie is None
    wrong = geneve.encode(b"", options=[geneve.GeneveOption(0x0108, 3, b"\x00" * 8)])
    with pytest.raises(ValueError, match="type 3"):
        geneve.decode(wrong).gwlb_flow_cookie
    assert geneve.GENEVE_PORT == 6081 and geneve.PROTOCOL_ETHERNET == 0x6558


def test_encode_validation():
    with pytest.raises(ValueError, match="vni"):
        geneve.encode(b"", vni=1 << 24)
    with pytest.raises(TypeError, match="vni"):
        geneve.encode(b"", vni=1.0)
    with pytest.raises(ValueError, match="protocol"):
        geneve.encode(b"", protocol=-1)
    with pytest.raises(TypeError, match="options"):
        geneve.encode(b"", options=[(1, 2, b"")])
    with pytest.raises(ValueError, match="options take"):
        geneve.encode(b"", options=[geneve.GeneveOption(1, 1, b"\0" * 124)] * 3)
    with pytest.raises(ValueError, match="critical"):
        geneve.encode(b"", options=[geneve.GeneveOption(1, 0x80)], critical=False)
    assert geneve.decode(geneve.encode(b"", options=[geneve.GeneveOption(1, 0x80)])).critical
    with pytest.raises(ValueError, match="data length"):
        geneve.GeneveOption(1, 1, b"abc")
    with pytest.raises(ValueError, match="option_class"):
        geneve.GeneveOption(1 << 16, 1)
    with pytest.raises(ValueError, match="type"):
        geneve.GeneveOption(1, 256)
    with pytest.raises(ValueError, match="flow_cookie"):
        geneve.gwlb_options(1, 2, 1 << 32)
    with pytest.raises(TypeError, match="endpoint_id"):
        geneve.gwlb_options("1", 2, 3)


def test_numba_bindings_match():
    import numba
    from lbcore import numba as lbn

    @numba.njit
    def check(buf, strict):
        return lbn.geneve_check(buf.ctypes, buf.shape[0], strict)

    @numba.njit
    def find(buf, cls, typ):
        return lbn.geneve_find_option(buf.ctypes, buf.shape[0], cls, typ)

    @numba.njit
    def write(out, words, oam, crit, proto, vni):
        return lbn.geneve_write_header(out.ctypes, out.shape[0], words, oam, crit, proto, vni)

    pkt = geneve.encode_gwlb(b"\x45" * 20, endpoint_id=9, attachment_id=8, flow_cookie=7)
    buf = np.frombuffer(pkt, dtype=np.uint8).copy()
    assert check(buf, 1) == 40 == geneve.decode(pkt).length
    assert check(buf[:7].copy(), 0) == -1
    assert check(buf[:30].copy(), 0) == -3
    off = find(buf, 0x0108, 3)
    assert off == 36 and bytes(buf[off:off + 4]) == (7).to_bytes(4, "big")
    assert find(buf, 0x0108, 9) == -6
    out = np.zeros(8, dtype=np.uint8)
    assert write(out, 0, 1, 0, 0x6558, 0xABCDEF) == 8
    assert bytes(out) == geneve.encode(b"", vni=0xABCDEF, oam=True)
    assert write(np.zeros(7, dtype=np.uint8), 0, 0, 0, 0, 0) == -1
