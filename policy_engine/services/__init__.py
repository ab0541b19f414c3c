"""Use cases of the service: each takes plain data and an actor, and owns its transaction."""
