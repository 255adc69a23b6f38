"""The invitation e-mail, in the primary contact's language (English, French, Dutch, German), whatever
the language of the user who sends it: one template per language, dates written as in Belgium."""
from babel.dates import format_date
from flask import current_app
from flask_babel import to_user_timezone

from ..i18n import locale_of
from ..models import Invitation
from .mail import Mail

SUBJECTS = {
    "en": "{firm} invites {client} to ClientDesk",
    "fr": "{firm} invite {client} sur ClientDesk",
    "nl": "{firm} nodigt {client} uit op ClientDesk",
    "de": "{firm} lädt {client} zu ClientDesk ein",
}


def mail_language(locale: str | None) -> str:
    language = (locale or "en").split("-")[0].lower()
    return language if language in SUBJECTS else "en"


def invitation_link(token: str) -> str:
    return f"{current_app.config['PUBLIC_BASE_URL']}/invitation/{token}"


def _render(name: str, context: dict) -> str:
    # The Jinja environment directly: render_template's context processors and signals (the request, the
    # signed-in user, ...) mean nothing to an e-mail and would cost 3 times the rendering, per message.
    return current_app.jinja_env.get_template(name).render(context)


def invitation_mail(invitation: Invitation, token: str) -> Mail:
    language = mail_language(invitation.contact.language)
    context = {
        "firm": current_app.config["FIRM_NAME"],
        "client": invitation.client.name,
        "contact": invitation.contact,
        "link": invitation_link(token),
        "expires": format_date(to_user_timezone(invitation.expires_at), "long", locale=locale_of(language)),
    }
    return Mail(
        to=invitation.contact.email,
        subject=SUBJECTS[language].format(firm=context["firm"], client=context["client"]),
        text=_render(f"mail/invitation.{language}.txt", context),
        html=_render(f"mail/invitation.{language}.html", context),
        ref=invitation.id,
    )
