"""GENEVE encapsulation (RFC 8926) on UDP port 6081, with AWS Gateway Load
Balancer's TLVs (option class 0x0108). Compiled in ``lbcore._geneve``; see
docs/elb.md, section "GENEVE"."""
from lbcore._geneve import (AWS_GWLB_OPTION_CLASS, GENEVE_PORT, GWLB_ATTACHMENT_ID,
                            GWLB_ENDPOINT_ID, GWLB_FLOW_COOKIE, MAX_OPTION_DATA,
                            MAX_OPTIONS_LENGTH, PROTOCOL_ETHERNET, PROTOCOL_IPV4,
                            PROTOCOL_IPV6, GeneveHeader, GeneveOption, decode, encode,
                            encode_gwlb, gwlb_options, header_length)

__all__ = ["AWS_GWLB_OPTION_CLASS", "GENEVE_PORT", "GWLB_ATTACHMENT_ID", "GWLB_ENDPOINT_ID",
           "GWLB_FLOW_COOKIE", "MAX_OPTION_DATA", "MAX_OPTIONS_LENGTH", "PROTOCOL_ETHERNET",
           "PROTOCOL_IPV4", "PROTOCOL_IPV6", "GeneveHeader", "GeneveOption", "decode",
           "encode", "encode_gwlb", "gwlb_options", "header_length"]
