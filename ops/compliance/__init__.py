"""Compliance figures of the province letter (late, unsigned, same-day receipt, on-time sending)
computed from what the ledger recorded, and the reports that carry them (README: Compliance)."""
