"""The invitation e-mail, in the primary contact's language (English, French, Dutch, German)."""
from flask import current_app

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
        "expires": invitation.expires_at.date().isoformat(),
    }
    return Mail(
        to=invitation.contact.email,
        subject=SUBJECTS[language].format(firm=context["firm"], client=context["client"]),
        text=_render(f"mail/invitation.{language}.txt", context),
        html=_render(f"mail/invitation.{language}.html", context),
        ref=invitation.id,
    )
