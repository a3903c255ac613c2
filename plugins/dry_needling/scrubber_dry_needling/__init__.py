"""Dry needling (CPT 20560 / 20561) rules for the claim scrubber.

Registered through the ``scrubber`` entry point like any third-party plugin,
and using only the scrubber's public API.
"""

__version__ = "0.1.0"
