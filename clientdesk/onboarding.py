"""Creating a client from the new-client wizard: the checks that need the database (register, groups,
duplicates) and the creation itself: client, primary contact, bank account and template, in the
caller's transaction (the audit records come with the flush)."""
from flask_babel import gettext as _

from . import rules, scoping, vat_check
from .einvoicing import PeppolRefused, PeppolSwitches, switch_as_template
from .extensions import db
from .forms import validators as v
from .models import BankAccount, Client, ConfigTemplate, Contact, Group, User


def existing_client(enterprise_number: str | None) -> Client | None:
    """The client that already has this enterprise number, whoever may see it (numbers are unique)."""
    if not enterprise_number:
        return None
    return db.session.scalars(db.select(Client).where(Client.enterprise_number == enterprise_number)).first()


def company_problems(values: dict, register) -> dict:
    """A Belgian number must be in the company register, unless "don't verify VAT" is ticked."""
    number = values["enterprise_number"]
    if not number or values["country"] != "BE" or values["skip_vat_check"]:
        return {}
    shown = v.format_enterprise_number(number)
    info = register.info()
    if not info.loaded:
        return {"enterprise_number": _(
            "The company register has not been loaded, so %(number)s cannot be verified: tick “Don't verify VAT” "
            "(the client will be checked after the next register load) or ask an admin to load the register.", number=shown)}
    if register.get(number) is None:
        return {"enterprise_number": _(
            "%(number)s is not in the company register (%(register)s). Check the number, or tick “Don't verify VAT” "
            "if the company is too new to be listed.", number=shown, register=info.label)}
    return {}


# Where the wizard shows what the rules say about a client; the rest comes from the chosen template.
WIZARD_FIELDS = {"bank_accounts": "iban", "e_invoicing_mandate": "e_invoicing_mandate"}


def details_problems(company: dict, values: dict, user, config) -> dict:
    """What is wrong with step 2 of the wizard: the groups and people it names, the contact's e-mail, and the
    client as it would be created (company, details and template together) by the rules."""
    errors = {}
    group_id = values["group_id"]
    if group_id is None:
        errors["group"] = _("Choose the client's group.")
    elif db.session.scalar(scoping.assignable_groups(user).where(Group.id == group_id)) is None:
        errors["group"] = _("You can only create clients in your own groups.")
    if values["firm_contact_id"] is not None and db.session.scalar(
            scoping.staff_users().where(User.id == values["firm_contact_id"])) is None:
        errors["firm_contact"] = _("Choose the firm contact person from the list.")
    template = db.session.get(ConfigTemplate, values["template_id"]) if values["template_id"] is not None else None
    if values["template_id"] is not None and template is None:
        errors["template"] = _("That template no longer exists: choose another one.")
    errors.update(rules.contact_email_problems({"email": values["email"]}, None))
    would_be = {
        "country": company["country"], "enterprise_number": company["enterprise_number"],
        "vat_number": company["vat_number"], "subscription_mode": values["subscription_mode"],
        "e_invoicing_mandate": values["e_invoicing_mandate"], "bank_accounts": 1 if values["iban"] else 0,
        "contacts": 1, "primary_contacts": 1,
    }
    peppol = {}
    if template is not None and template.peppol_switches:
        try:
            peppol = PeppolSwitches.changes(config, **template.peppol_switches)
        except PeppolRefused as refusal:
            errors["template"] = str(refusal)
    for field, message in rules.problems(would_be, **peppol).items():
        errors.setdefault(WIZARD_FIELDS.get(field, "template"), message)
    return errors


def template_defaults(template: ConfigTemplate, user) -> dict:
    """Step-2 field values that a template suggests (its group only if the user may use that group)."""
    defaults = {"subscription_mode": template.subscription_mode, "e_invoicing_mandate": "y" if template.e_invoicing_mandate else ""}
    if template.assigned_group_id is not None and db.session.scalar(
            scoping.assignable_groups(user).where(Group.id == template.assigned_group_id)) is not None:
        defaults["group"] = str(template.assigned_group_id)
    if template.assigned_user is not None and template.assigned_user.active:
        defaults["firm_contact"] = str(template.assigned_user_id)
    return defaults


def create_client(company: dict, details: dict, config) -> Client:
    """Add the client with its primary contact (not committed). The template's values are copied first;
    the choices made in the wizard (group, firm contact, subscription, mandate) then override them; then the
    template's Peppol switches are turned on (the caller launches the registration after the commit)."""
    client = Client(
        name=company["name"], country=company["country"], enterprise_number=company["enterprise_number"],
        vat_number=company["vat_number"], legal_form=company["legal_form"], company_type=company.get("company_type"),
        address_line2=company.get("address_line2"), street=company["street"],
        house_number=company["house_number"], box=company["box"], postal_code=company["postal_code"],
        city=company["city"], website=company["website"], language=details["language"],
    )
    template = db.session.get(ConfigTemplate, details["template_id"]) if details["template_id"] is not None else None
    if template is not None:
        template.apply_to(client)
    client.group = db.session.get(Group, details["group_id"])
    client.firm_contact = db.session.get(User, details["firm_contact_id"]) if details["firm_contact_id"] else None
    client.subscription_mode = details["subscription_mode"]
    client.e_invoicing_mandate = details["e_invoicing_mandate"]
    client.contacts.append(Contact(
        civility=details["civility"], first_name=details["first_name"], last_name=details["last_name"],
        email=details["email"], mobile=details["mobile"], language=details["language"], is_primary=True,
    ))
    if details["iban"]:
        client.bank_accounts.append(BankAccount(iban=details["iban"]))
    if company["skip_vat_check"]:
        vat_check.mark_unverified(client)
    rules.check(client)
    db.session.add(client)
    db.session.flush()
    switch_as_template(template, client, config)
    return client
