"""Offline verification of PAdES signatures in attachments and XML signatures on packages."""
