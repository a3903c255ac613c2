"""Example payer policy plugin for the claim scrubber (fictitious payers)."""

__version__ = "0.1.0"
