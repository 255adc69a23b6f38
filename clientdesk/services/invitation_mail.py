"""The invitation e-mail (the company's, or a colleague's from one of its owners) and the company invitation's reminders,
in the invited contact's language (English, French, Dutch, German), whatever the language of the user who sends it: one
template per language, dates written as in Belgium."""
import functools
from datetime import date

import jinja2
from babel.dates import format_date
from flask import current_app
from flask_babel import to_user_timezone

from ..i18n import locale_of
from ..models import Invitation, InvitationReminder, MailKind
from .mail import Logged, Mail

SUBJECTS = {
    "en": "{firm} invites {client} to ClientDesk",
    "fr": "{firm} invite {client} sur ClientDesk",
    "nl": "{firm} nodigt {client} uit op ClientDesk",
    "de": "{firm} lädt {client} zu ClientDesk ein",
}
COLLEAGUE_SUBJECTS = {
    "en": "{inviter} invites you to join {client} on ClientDesk",
    "fr": "{inviter} vous invite à rejoindre {client} sur ClientDesk",
    "nl": "{inviter} nodigt u uit om {client} te vervoegen op ClientDesk",
    "de": "{inviter} lädt Sie ein, {client} auf ClientDesk beizutreten",
}
REMINDER_SUBJECTS = {
    "en": "Reminder: your invitation to ClientDesk for {client} expires on {expires}",
    "fr": "Rappel : votre invitation à ClientDesk pour {client} expire le {expires}",
    "nl": "Herinnering: uw uitnodiging op ClientDesk voor {client} verloopt op {expires}",
    "de": "Erinnerung: Ihre Einladung zu ClientDesk für {client} läuft am {expires} ab",
}


def mail_language(locale: str | None) -> str:
    language = (locale or "en").split("-")[0].lower()
    return language if language in SUBJECTS else "en"


def invitation_link(token: str) -> str:
    return f"{current_app.config['PUBLIC_BASE_URL']}/invitation/{token}"


def _templates() -> jinja2.Environment:
    """The app's templates in a Jinja environment of their own, for e-mails. render_template's context
    processors and signals (the request, the signed-in user, ...) and the globals of the app's environment,
    which Jinja copies into each render's context, cost more than the rendering itself, and an e-mail uses
    none of them. Same files and escaping (HTML only) as the app's environment."""
    templates = current_app.extensions.get("clientdesk.mail_templates")
    if templates is None:
        templates = current_app.extensions["clientdesk.mail_templates"] = jinja2.Environment(
            loader=current_app.jinja_env.loader, autoescape=jinja2.select_autoescape(),
            auto_reload=current_app.jinja_env.auto_reload)
    return templates


def _render(name: str, context: dict) -> str:
    return _templates().get_template(name).render(context)


@functools.lru_cache(maxsize=64)
def _long_date(day: date, language: str) -> str:
    # Babel writes a date in about the time Jinja renders a template: once per day and language, not per e-mail.
    return format_date(day, "long", locale=locale_of(language))


def invitation_mail(invitation: Invitation) -> Mail:
    """The e-mail with the invitation's link (its token derived again: the lifecycle e-mails no other)."""
    kind = MailKind.COLLEAGUE_INVITATION if invitation.is_colleague else MailKind.INVITATION
    return _mail(invitation, "invitation", COLLEAGUE_SUBJECTS if invitation.is_colleague else SUBJECTS, invitation.id,
                 Logged(kind, invitation.client_id, invitation.first_failed_at, invitation.failed_attempts))


def reminder_mail(reminder: InvitationReminder) -> Mail:
    """The reminder of a company's invitation, with the same link."""
    return _mail(reminder.invitation, "invitation_reminder", REMINDER_SUBJECTS, reminder.id,
                 Logged(MailKind.REMINDER, reminder.invitation.client_id, reminder.first_failed_at, reminder.failed_attempts))


def _mail(invitation: Invitation, template: str, subjects: dict, ref, log: Logged) -> Mail:
    if invitation.token is None:
        raise ValueError(f"{invitation} has no derivable link: the lifecycle issues a new invitation instead")
    language = mail_language(invitation.contact.language)
    firm = current_app.config["FIRM_NAME"]
    context = {
        "firm": firm,
        "client": invitation.client.name,
        "contact": invitation.contact,
        "link": invitation_link(invitation.token),
        "expires": _long_date(to_user_timezone(invitation.expires_at).date(), language),
        # A colleague's invitation names the owner who sent it (the firm, should that account be gone).
        "inviter": str(invitation.invited_by or firm) if invitation.is_colleague else None,
    }
    return Mail(
        to=invitation.contact.email,
        subject=subjects[language].format(**context),
        text=_render(f"mail/{template}.{language}.txt", context),
        html=_render(f"mail/{template}.{language}.html", context),
        ref=ref,
        log=log,
    )
