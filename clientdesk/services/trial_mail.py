"""The trial-ending reminders: to the client's primary contact in the contact's language, with the link to the portal's
plan choice; to the firm contact in their interface language (English when they chose none)."""
from flask import current_app

from ..models import MailKind, TrialReminder, TrialReminderRecipient
from .invitation_mail import _long_date, _render, mail_language
from .mail import Logged, Mail

SUBJECTS = {
    "en": "{client}: your ClientDesk trial ends on {trial_end}",
    "fr": "{client} : votre période d'essai de ClientDesk se termine le {trial_end}",
    "nl": "{client}: uw proefperiode van ClientDesk loopt af op {trial_end}",
    "de": "{client}: Ihr Testzeitraum von ClientDesk endet am {trial_end}",
}
FIRM_SUBJECTS = {
    "en": "Trial of {client} ends on {trial_end}, no plan chosen",
    "fr": "L'essai de {client} se termine le {trial_end}, sans formule choisie",
    "nl": "Proefperiode van {client} loopt af op {trial_end}, geen formule gekozen",
    "de": "Testzeitraum von {client} endet am {trial_end}, kein Tarif gewählt",
}


def trial_reminder_mail(reminder: TrialReminder) -> Mail:
    client = reminder.client
    if reminder.recipient == TrialReminderRecipient.CLIENT:
        contact = client.primary_contact
        to, language, template, subjects = contact.email, mail_language(contact.language), "trial_reminder", SUBJECTS
        person = {"contact": contact}
    else:
        user = client.firm_contact
        to, language, template, subjects = user.email, mail_language(user.ui_language), "trial_reminder_firm", FIRM_SUBJECTS
        person = {"user": user}
    context = {
        "firm": current_app.config["FIRM_NAME"],
        "client": client.name,
        "trial_end": _long_date(client.trial_end, language),
        "link": f"{current_app.config['PUBLIC_BASE_URL']}/portal/",
        **person,
    }
    return Mail(to=to, subject=subjects[language].format(**context), text=_render(f"mail/{template}.{language}.txt", context),
                ref=reminder.id, log=Logged(MailKind.TRIAL_REMINDER, client.id))
