"""Medical policy and prior-authorization rules engine."""

__version__ = "0.1.0"
