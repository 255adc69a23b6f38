"""The app's own refusals: what a person did that cannot be done, with the reason they can act on."""


class Refused(Exception):
    """A change refused for a reason the person can act on; str() is the message for them, in their language.

    Screens show it as it is (admin/base.py); any other exception is a failure of ours, logged."""
