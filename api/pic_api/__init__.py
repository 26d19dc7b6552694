"""PIC management API: a Flask app factory (``create_app``), managers and pure core logic."""

__all__ = ["create_app"]


def create_app(*args, **kwargs):
    from .app import create_app as _create_app

    return _create_app(*args, **kwargs)
