"""The national document axis (trục liên thông văn bản quốc gia) protocol, both ways.

`protocol` is the wire format of the vendor SDK (domain.md §7.6): the signed `XroadVnpt-*`
headers and the JSON answers. The hub's axis-compatible HTTP API (the server side) and the
national-axis client (the client side) are both built on it, so they cannot drift apart.
"""
