"""The "forgot password" e-mail: sent by a worker, in the user's language; when the mail server cannot take it, tried
again (retries.py) while its link still works, started by `retry_due` as the invitations' are."""
import sqlalchemy as sa
from flask import current_app, render_template
from flask_babel import get_locale, ngettext
from sqlalchemy.orm import joinedload

from .. import tasks
from ..extensions import db
from ..models import MailKind, PasswordReset, utcnow
from ..retries import start_due
from ..services.mail import Logged, Mail, Mailer

SUBJECTS = {  # e-mails are written per language, as the invitation's (templates/mail/)
    "en": "Choose a new ClientDesk password",
    "fr": "Choisissez un nouveau mot de passe ClientDesk",
    "nl": "Kies een nieuw ClientDesk-wachtwoord",
    "de": "Wählen Sie ein neues ClientDesk-Passwort",
}


def reset_link(reset: PasswordReset) -> str:
    """The link's page, in the realm of its account: the staff pages, or the portal for a client user."""
    realm = "/portal" if reset.client_user_id is not None else ""
    return f"{current_app.config['PUBLIC_BASE_URL']}{realm}/password/reset/{reset.token}"


def reset_mail(reset: PasswordReset) -> Mail:
    """In the account's interface language; without one, in the language the link was asked in (the task's)."""
    account = reset.account
    language = account.ui_language or get_locale().language
    language = language if language in SUBJECTS else "en"
    text = render_template(f"mail/password_reset.{language}.txt", user=account, link=reset_link(reset),
                           firm=current_app.config["FIRM_NAME"])
    return Mail(to=account.email, subject=SUBJECTS[language], text=text, ref=reset.id,
                log=Logged(MailKind.PASSWORD_RESET, None, reset.first_failed_at, reset.failed_attempts, reset.expires_at))


def _send(resets: list[PasswordReset]) -> None:
    """E-mail the resets whose link still works and record each outcome; the others are not tried again."""
    now = utcnow()
    to_send = [reset for reset in resets if reset.is_usable and reset.token is not None]
    for reset in resets:
        if reset not in to_send:
            reset.retry_at = None
    undelivered = {failure.mail.ref: failure for failure in
                   Mailer.from_config(current_app.config).send_many([reset_mail(reset) for reset in to_send])}
    for reset in to_send:
        failure = undelivered.get(reset.id)
        if failure is None:
            reset.sent_at, reset.error, reset.retry_at = now, None, None
        else:
            reset.record_failure(failure.reason, failure.transient, now)
    db.session.commit()


def run_send(task_id: str, reset_id: int) -> None:
    with tasks.running(task_id):
        reset = db.session.get(PasswordReset, reset_id)
        if reset is not None and reset.sent_at is None:
            _send([reset])


def retry_due() -> int:
    """Start, as one task, the reset e-mails whose retry time has passed; returns how many (the reconciler calls it)."""
    return start_due(PasswordReset, PasswordReset.retry_at, lambda ids: tasks.launch(
        "password_reset_retry", ngettext("Password reset e-mail tried again (%(num)d)",
                                         "Password reset e-mails tried again (%(num)d)", len(ids)),
        run_retry, ids, total=len(ids), queue="mail"))


def run_retry(task_id: str, reset_ids: list[int]) -> None:
    """E-mail again the resets retry_due claimed (still leased: not sent or voided since)."""
    with tasks.running(task_id):
        _send(db.session.scalars(sa.select(PasswordReset).where(
            PasswordReset.id.in_(reset_ids), PasswordReset.sent_at.is_(None), PasswordReset.retry_at > utcnow())
            .options(joinedload(PasswordReset.user), joinedload(PasswordReset.client_user)).order_by(PasswordReset.id)).all())
