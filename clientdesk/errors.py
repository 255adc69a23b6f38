"""The app's own refusals: what a person did that cannot be done, with the reason they can act on; and the
queue being out of reach, which refuses any change that needs it."""
from flask import has_request_context
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user


class Refused(Exception):
    """A change refused for a reason the person can act on; str() is the message for them, in their language.

    Screens show it as it is (admin/base.py); any other exception is a failure of ours, logged. A refusal that only
    an administrator can lift names the `setting` behind it to administrators (and on the command line), and tells
    everyone else whom to ask: a setting's name means nothing to them."""

    setting: str | None = None

    def __str__(self) -> str:
        reason = super().__str__()
        if self.setting is None:
            return reason
        if has_request_context() and not (current_user.is_authenticated and current_user.is_admin):
            return _("%(reason)s Ask your administrator.", reason=reason)
        return _("%(reason)s (setting %(setting)s)", reason=reason, setting=self.setting)


class QueueUnavailable(RuntimeError):
    """Redis cannot be reached: nothing was enqueued, and nothing may be changed."""

    def __str__(self) -> str:
        return str(_l("The background queue is not reachable right now, so nothing was done. Try again in a minute."))
