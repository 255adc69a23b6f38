"""Entry point for `flask --app app ...` from the checkout.

The commands get the app without its admin screens: they serve no page, and building the screens is most of
their start-up. `flask run` and `flask routes` get the whole app (and `flask dev` adds the screens itself).
"""
import sys

from clientdesk.app import create_app as build_app

COMMANDS_WITH_SCREENS = {"run", "routes"}


def create_app():
    return build_app(screens=bool(COMMANDS_WITH_SCREENS.intersection(sys.argv[1:])))
