"""Entry point for `flask --app app ...` from the checkout."""
from clientdesk.app import create_app

__all__ = ["create_app"]
