"""Onboarding in the portal: the checklist (clientdesk/checklist.py: what each step is) with its progress, and the
changes a client user makes to finish it. Each change is checked by the client rules (rules.py) before it is written, and
audited under the client user's name (the audit's actor is the signed-in account)."""
from flask_babel import gettext as _

from .. import checklist, rules
from ..einvoicing import PeppolSwitches
from ..errors import Refused
from ..extensions import db
from ..models import AllowedSender, BankAccount, Client, utcnow

BILLING_FIELDS = ("billing_street", "billing_house_number", "billing_box", "billing_postal_code", "billing_city",
                  "billing_country")


def progress(steps: list[checklist.Step]) -> int:
    """Percentage of the steps done."""
    return round(100 * sum(step.done for step in steps) / len(steps))


def add_bank_account(client: Client, iban: str) -> None:
    """`iban` in its stored form (forms.validators.iban)."""
    if any(account.iban == iban for account in client.bank_accounts):
        raise Refused(_("This bank account is already registered."))
    known = rules.problems(client)
    client.bank_accounts.append(BankAccount(iban=iban))
    rules.check(client, known=known)
    db.session.flush()


def remove_bank_account(account: BankAccount) -> None:
    client = account.client
    others = [other for other in rules.kept(client.bank_accounts) if other is not account]
    rules.check(client, known=rules.problems(client), bank_accounts=len(others))
    db.session.delete(account)
    db.session.flush()


def set_billing_address(client: Client, values: dict) -> None:
    known = rules.problems(client)
    client.billing_same_as_address = False  # the client gives one of its own
    for field in BILLING_FIELDS:
        setattr(client, field, values.get(field) or None)
    rules.check(client, known=known)
    db.session.flush()


def give_mandate(client: Client, by: str, address: str | None) -> None:
    """The client's e-invoicing mandate for Peppol receiving, with who gave it, when and from which address."""
    known = rules.problems(client)
    client.e_invoicing_mandate = True
    client.e_invoicing_mandate_at, client.e_invoicing_mandate_by = utcnow(), by[:300]
    client.e_invoicing_mandate_address = (address or "")[:45] or None
    rules.check(client, known=known)
    db.session.flush()


def withdraw_mandate(client: Client, config) -> bool:
    """The client withdraws the mandate: Peppol receiving, which needs it, is turned off through the Peppol switches.
    True when it was on: the caller launches the registration that unregisters it (einvoicing.launch_registration)."""
    receiving = client.peppol_receive
    if receiving:
        PeppolSwitches.set(client, config, receive=False)
    known = rules.problems(client)
    client.e_invoicing_mandate = False
    client.e_invoicing_mandate_at = client.e_invoicing_mandate_by = client.e_invoicing_mandate_address = None
    rules.check(client, known=known)
    db.session.flush()
    return receiving


def add_allowed_sender(client: Client, pattern: str) -> None:
    """`pattern` in its stored form (forms.validators.sender_pattern)."""
    if any(sender.pattern == pattern for sender in client.allowed_senders):
        raise Refused(_("%(pattern)s is already an allowed sender.", pattern=pattern))
    client.allowed_senders.append(AllowedSender(pattern=pattern))
    db.session.flush()


def remove_allowed_sender(sender: AllowedSender) -> None:
    db.session.delete(sender)
    db.session.flush()
