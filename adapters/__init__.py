"""Bridges to legacy office software and to the national axis."""
