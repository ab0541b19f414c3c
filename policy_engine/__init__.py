"""Medical policy and prior-authorization rules engine."""

__version__ = "0.1.0"


def create_app(config=None):  # type: ignore[no-untyped-def]
    """The Flask application (imported lazily: the policy core does not need Flask)."""
    from .app import create_app as factory

    return factory(config)
