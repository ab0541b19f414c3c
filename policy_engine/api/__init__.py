"""The HTTP API: Flask blueprints, marshmallow schemas, authentication, one error handler."""
