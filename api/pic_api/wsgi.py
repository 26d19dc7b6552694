"""WSGI entry point for gunicorn: ``gunicorn pic_api.wsgi:app`` (one worker, several threads)."""

from .app import create_app

app = create_app()
