"""The app's own refusals: what a person did that cannot be done, with the reason they can act on; and the
queue being out of reach, which refuses any change that needs it."""
from flask_babel import lazy_gettext as _l


class Refused(Exception):
    """A change refused for a reason the person can act on; str() is the message for them, in their language.

    Screens show it as it is (admin/base.py); any other exception is a failure of ours, logged."""


class QueueUnavailable(RuntimeError):
    """Redis cannot be reached: nothing was enqueued, and nothing may be changed."""

    def __str__(self) -> str:
        return str(_l("The background queue is not reachable right now, so nothing was done. Try again in a minute."))
