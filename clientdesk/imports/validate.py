"""Checking a whole import file before anything is written.

Every cell goes through the shared normalisers (forms/validators.py) and the client identity rules
(forms/client.py); then duplicates inside the file, then the rows are matched with existing clients
(enterprise number first, then the primary contact's e-mail) and sorted into new, unchanged and
changed; then each client as the row would leave it, merged with its template, goes through the client
rules (rules.py). Nothing here writes to the database. Every error is kept, as row + column + message.
"""
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import force_locale, gettext as _, lazy_gettext as _l

from .. import rules
from ..einvoicing import PeppolRefused, PeppolSwitches
from ..extensions import db
from ..forms import validators as v
from ..forms.client import clean_identity
from ..models import BankAccount, Client, ClientStatus, CompanyType, ConfigTemplate, Contact, ContactSource, Group, Plan as PlanModel
from ..search import fold
from .columns import BY_KEY, EXAMPLE_EMAILS, match_headers
from .reader import Sheet

PROGRESS_EVERY = 1000
CHUNK = 2000  # rows matched with existing clients at a time

# Import column -> Client / primary Contact attribute, compared and updated for existing clients.
CLIENT_FIELDS = {
    "name": "name", "country": "country", "enterprise_number": "enterprise_number", "vat_number": "vat_number",
    "external_reference": "external_reference", "street": "street", "house_number": "house_number", "box": "box",
    "postal_code": "postal_code", "city": "city", "mandate": "e_invoicing_mandate", "address_line2": "address_line2",
    "company_type": "company_type", "parent": "parent_id", "billing_same_as_address": "billing_same_as_address",
    **{column: column for column in Client.BILLING_COLUMNS},
}
CONTACT_FIELDS = {
    "contact_email": "email", "contact_first_name": "first_name", "contact_last_name": "last_name",
    "contact_language": "language", "contact_switchboard_phone": "switchboard_phone", "contact_source": "source",
}
# The columns where a row's error goes when the client rules (rules.py) refuse it, by the rule's field; a rule
# broken by what the row's template sets goes on the template's column.
RULE_COLUMNS = {
    "bank_accounts": "iban", "e_invoicing_mandate": "mandate", "enterprise_number": "enterprise_number",
    "vat_number": "vat_number", "contacts": "contact_email", "parent": "parent",
    "billing_same_as_address": "billing_same_as_address",
}
# What the rules read of an existing client.
RULE_FIELDS = ("country", "enterprise_number", "vat_number", "subscription_mode", "e_invoicing_mandate", "peppol_send",
               "peppol_receive", "peppol_state", "status", "invited_at", "activated_at", "deactivated_at")
TEXT_COLUMNS = {
    "name": Client.name, "external_reference": Client.external_reference, "street": Client.street,
    "house_number": Client.house_number, "box": Client.box, "postal_code": Client.postal_code, "city": Client.city,
    "contact_first_name": Contact.first_name, "contact_last_name": Contact.last_name, "address_line2": Client.address_line2,
    **{column: getattr(Client, column) for column in Client.BILLING_COLUMNS if column != "billing_country"},
}



@dataclass(slots=True)
class Row:
    number: int  # spreadsheet row number
    values: dict  # column key -> clean value, only for the cells that hold one (plus a derived VAT number)


@dataclass(slots=True)
class Existing:
    """What the import compares a row with: an existing client, its primary contact and its IBANs."""

    id: int
    status: str
    fields: dict  # Client attribute -> value (those the import sets, and those the rules read)
    contact: dict | None  # primary contact: id, email, first_name, last_name, language
    ibans: set


@dataclass
class Plan:
    language: str = "fr"
    letters: dict = field(default_factory=dict)  # column key -> spreadsheet column letter
    headers: dict = field(default_factory=dict)  # column key -> header as written in the file
    rows_count: int = 0
    new: list[Row] = field(default_factory=list)
    changed: list[tuple[Row, Existing, dict]] = field(default_factory=list)  # changes: column key -> (old, new)
    unchanged: list[tuple[Row, Existing]] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)

    def error(self, row: int, key: str | None, message: str, header: str | None = None, letter: str | None = None) -> None:
        self.errors.append({
            "row": row,
            "column": header if header is not None else self.headers.get(key, ""),
            "letter": letter if letter is not None else self.letters.get(key, ""),
            "message": message,
        })

    def rule_error(self, row: int, field: str, message: str) -> None:
        """A client rule the row breaks, on the column of the rule's field, else the template's (else the row)."""
        key = next((k for k in (RULE_COLUMNS.get(field), "template") if k in self.letters), None)
        self.error(row, key, message)

    @property
    def invite_existing(self) -> list[int]:
        """Existing clients, never invited, whose row asks for an invitation."""
        rows = [(row, existing) for row, existing, _ in self.changed] + self.unchanged
        return [e.id for row, e in rows if row.values.get("invitation") and e.status == ClientStatus.CREATED]


class TemplateDefaults:
    """What a configuration template puts on a new client, worked out once per template and group: its defaults
    as `ConfigTemplate.apply_to` (the one place of that rule) copies them onto a throwaway client, and its Peppol
    switches as the Peppol switches would set them (`peppol`), or why they cannot (`peppol_refusal`)."""

    def __init__(self, template: ConfigTemplate | None, default_group: Group | None, config):
        probe = Client()
        if default_group is not None:
            probe.group = default_group  # an explicit group wins over the template's
        if template is not None:
            template.apply_to(probe)
        self.client = _column_values(probe)
        integration = probe.integration
        self.integration = _column_values(integration) if integration is not None else None
        self.integration_repr = str(integration) if integration is not None else ""
        self.peppol, self.peppol_refusal = {}, None
        if template is not None and template.peppol_switches:
            try:
                self.peppol = PeppolSwitches.changes(config, **template.peppol_switches)
            except PeppolRefused as refusal:
                self.peppol_refusal = _("The template “%(name)s” turns Peppol on: %(reason)s", name=template.name,
                                        reason=str(refusal))


def _column_values(obj) -> dict:
    """The column values set on a transient object, foreign keys taken from its many-to-one relationships."""
    state = sa.inspect(obj)
    values = {attr.key: state.dict[attr.key] for attr in state.mapper.column_attrs if attr.key in state.dict}
    for relationship in state.mapper.relationships:
        target = state.dict.get(relationship.key)
        if target is not None and relationship.direction.name == "MANYTOONE":
            for local, remote in relationship.local_remote_pairs:
                values[local.key] = getattr(target, remote.key)
    return values


@dataclass
class Lookups:
    """Names a row may refer to, loaded once per file, and what their templates put on a client."""

    templates: dict  # folded name -> ConfigTemplate
    groups: dict  # folded name -> Group
    plans: dict  # folded name -> Plan (those no longer offered too: a client may keep its own)
    default_group: Group | None  # the group chosen for the whole import (--group)
    config: dict = field(default_factory=dict)  # the app's configuration (the Peppol switches need it)
    _defaults: dict = field(default_factory=dict)

    @classmethod
    def load(cls, default_group: Group | None = None, config=None) -> "Lookups":
        return cls(
            templates={_name_key(t.name): t for t in db.session.scalars(sa.select(ConfigTemplate))},
            groups={_name_key(g.name): g for g in db.session.scalars(sa.select(Group))},
            plans={_name_key(p.name): p for p in db.session.scalars(sa.select(PlanModel))},
            default_group=default_group, config=config or {},
        )

    @staticmethod
    def name_of(table: dict, id_: int | None) -> str | None:
        return next((o.name for o in table.values() if o.id == id_), None)

    def defaults(self, row: "Row") -> TemplateDefaults:
        """What a new client of `row` gets from its template and group."""
        key = (row.values.get("template"), row.values.get("group") or self.default_group)
        if key not in self._defaults:
            self._defaults[key] = TemplateDefaults(*key, self.config)
        return self._defaults[key]


def _name_key(name) -> str:
    return " ".join(fold(str(name)).split())


def cell_text(value) -> str:
    """A cell as text, whitespace collapsed; a whole number Excel stored as 1000.0 reads `1000`."""
    if value.__class__ is str:
        return " ".join(value.split())
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, (date, datetime)):
        value = value.isoformat()
    return " ".join(str(value).split())


def _text_cleaner(column) -> Callable:
    limit = column.type.length

    def clean(value):
        text = cell_text(value)
        if len(text) > limit:
            raise v.InvalidValue(_("Too long: at most %(max)d characters (this one has %(length)d).", max=limit, length=len(text)))
        return text

    return clean


def _lookup_cleaner(table: dict, unknown) -> Callable:
    """A cell naming one of `table`'s rows; `unknown` (%(name)s, %(known)s) says that none has that name."""
    def clean(value):
        found = table.get(_name_key(value))
        if found is None:
            known = ", ".join(sorted(f"“{o.name}”" for o in table.values())) or _("none yet")
            raise v.InvalidValue(unknown % {"name": cell_text(value), "known": known})
        return found

    return clean


def _choice_cleaner(enum) -> Callable:
    """A cell naming one of a labelled enum's members: its code, or its label in one of the app's languages
    (with or without the words in brackets)."""
    names = {}
    for language in v.SUPPORTED_LANGUAGES:
        with force_locale(language):
            for member in enum:
                label = str(member.label)
                for name in (member.value, label, label.split("(")[0]):
                    names.setdefault(_name_key(name), member.value)

    def clean(value):
        found = names.get(_name_key(cell_text(value)))
        if found is None:
            raise v.InvalidValue(_("“%(value)s” is not one of: %(choices)s.", value=cell_text(value),
                                   choices=", ".join(str(member.label) for member in enum)))
        return found

    return clean


def _parent_cleaner() -> Callable:
    """A cell giving the enterprise number of an existing client: that client's id."""
    found = {}

    def clean(value):
        number = v.enterprise_number(value)
        if number not in found:
            found[number] = db.session.scalar(sa.select(Client.id).where(Client.enterprise_number == number))
        if found[number] is None:
            raise v.InvalidValue(_("No client has the enterprise number %(number)s: import the parent company first.",
                                   number=v.format_enterprise_number(number)))
        return found[number]

    return clean


def _cleaners(lookups: Lookups) -> dict[str, Callable]:
    cleaners = {key: _text_cleaner(column) for key, column in TEXT_COLUMNS.items()}
    cleaners.update(
        contact_email=v.email, contact_language=v.locale, iban=v.iban, mandate=v.yes_no, invitation=v.yes_no,
        billing_same_as_address=v.yes_no, billing_country=v.country, contact_switchboard_phone=v.phone,
        company_type=_choice_cleaner(CompanyType), contact_source=_choice_cleaner(ContactSource), parent=_parent_cleaner(),
        template=_lookup_cleaner(lookups.templates, _l("There is no template called “%(name)s” (existing: %(known)s).")),
        group=_lookup_cleaner(lookups.groups, _l("There is no group called “%(name)s” (existing: %(known)s).")),
        plan=_lookup_cleaner(lookups.plans, _l("There is no plan called “%(name)s” (existing: %(known)s).")),
    )
    return cleaners


IDENTITY = ("country", "enterprise_number", "vat_number")


def check(sheet: Sheet, lookups: Lookups, progress: Callable[[int, int], None] | None = None) -> Plan:
    """The plan for a file: what it would create and change, or its errors."""
    plan = Plan()
    match = match_headers(sheet.header)
    plan.language = match.language
    for index, label, message in match.errors:
        plan.error(sheet.header_row, None, message, header=label, letter=sheet.letter(index) if index is not None else "")
    if match.errors:
        return plan  # the rows cannot be read without knowing what their columns hold
    plan.letters = {key: sheet.letter(index) for key, index in match.positions.items()}
    plan.headers = {key: " ".join(str(sheet.header[index]).split()) for key, index in match.positions.items()}
    first_rows = {"enterprise_number": {}, "contact_email": {}}
    for rows in _chunks(_clean_rows(sheet, match.positions, lookups, plan, progress), CHUNK):
        _check_duplicates(rows, first_rows, plan)
        _match_existing(rows, lookups, plan)
    if not plan.rows_count:
        plan.error(0, None, _("The sheet “%(sheet)s” has no client rows under its header.", sheet=sheet.name))
    plan.errors.sort(key=lambda error: error["row"])  # stable: a row's own errors stay in the order they were found
    return plan


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _clean_rows(sheet: Sheet, positions: dict, lookups: Lookups, plan: Plan, progress) -> Iterator[Row]:
    cleaners = _cleaners(lookups)
    simple = [(key, index, cleaners[key], BY_KEY[key].required) for key, index in positions.items() if key not in IDENTITY]
    identity = [positions.get(key) for key in IDENTITY]
    unnamed = [index for index in range(len(sheet.header)) if index not in set(positions.values())]
    total = max(1, sheet.last_row - sheet.header_row)
    for count, (number, cells) in enumerate(sheet.rows, start=1):
        if progress is not None and count % PROGRESS_EVERY == 0:
            progress(count, total)
        if all(_blank(cell) for cell in cells):
            continue  # empty rows are ignored
        plan.rows_count += 1
        values = {}
        for key, index, clean, required in simple:
            raw = cells[index]
            if _blank(raw):
                if required:
                    plan.error(number, key, _("Required: this cell is empty."))
                continue
            try:
                values[key] = clean(raw)
            except v.InvalidValue as error:
                plan.error(number, key, str(error))
        _clean_identity(number, [cells[i] if i is not None else "" for i in identity], values, plan)
        _clean_addresses(number, values, plan)
        if values.get("contact_email") in EXAMPLE_EMAILS:
            plan.error(number, "contact_email", _("This is the template's example row: replace it with a real client or delete it."))
        for index in unnamed:
            if not _blank(cells[index]):
                plan.error(number, None, _("This cell has a value but its column has no header."), header="",
                           letter=sheet.letter(index))
        yield Row(number, values)


def _clean_addresses(number: int, values: dict, plan: Plan) -> None:
    """Postal codes in their country's format; billing columns filled mean a billing address of its own."""
    country = values.get("country", v.DEFAULT_COUNTRY)
    for key, in_country in (("postal_code", country), ("billing_postal_code", values.get("billing_country", country))):
        if key in values:
            try:
                values[key] = v.postal_code(values[key], in_country)
            except v.InvalidValue as error:
                plan.error(number, key, str(error))
                del values[key]
    billing = [key for key in Client.BILLING_COLUMNS if key in values]
    if billing and values.get("billing_same_as_address"):
        plan.error(number, "billing_same_as_address", _("The row has a billing address of its own: answer Non here, or "
                                                        "leave the billing address columns empty."))
    elif billing:
        values["billing_same_as_address"] = False


def _blank(cell) -> bool:
    return cell == "" or (isinstance(cell, str) and not cell.strip())


def _clean_identity(number: int, raw: list, values: dict, plan: Plan) -> None:
    country, enterprise, vat = (cell_text(value) for value in raw)
    if not country:
        plan.error(number, "country", _("Required: this cell is empty."))
        return
    clean, errors = clean_identity(country, enterprise, vat)
    for key, message in errors.items():
        plan.error(number, key, message)
    values.update((key, value) for key, value in clean.items() if value is not None and key not in errors)


def _check_duplicates(rows: list[Row], first_rows: dict[str, dict], plan: Plan) -> None:
    """`first_rows`: column key -> value -> the row it was first seen on, kept from one chunk to the next."""
    for key, first_row in first_rows.items():
        for row in rows:
            value = row.values.get(key)
            if value is None:
                continue
            if value in first_row:
                plan.error(row.number, key, _(
                    "Same enterprise number as row %(row)d: a client may appear only once in the file.", row=first_row[value])
                    if key == "enterprise_number" else _(
                    "Same contact e-mail as row %(row)d: a client may appear only once in the file.", row=first_row[value]))
            else:
                first_row[value] = row.number


def _match_existing(rows: list[Row], lookups: Lookups, plan: Plan) -> None:
    """Sort `rows` into the plan's new, changed and unchanged ones, or errors."""
    numbers = sorted({r.values["enterprise_number"] for r in rows if "enterprise_number" in r.values})
    emails = sorted({r.values["contact_email"] for r in rows if "contact_email" in r.values})
    by_number = dict(db.session.execute(
        sa.select(Client.enterprise_number, Client.id).where(Client.enterprise_number.in_(numbers))).all())
    email_owner = {  # e-mail -> (client id, is the client's primary contact)
        email: (client_id, primary) for email, client_id, primary in db.session.execute(
            sa.select(Contact.email, Contact.client_id, Contact.is_primary).where(Contact.email.in_(emails)))}
    existing = _snapshots(sorted(set(by_number.values()) | {owner for owner, _ in email_owner.values()}))
    invalid_rows = {e["row"] for e in plan.errors if e["row"] >= rows[0].number}
    for row in rows:
        target = _identify(row, by_number, email_owner, existing, plan)
        if row.number in invalid_rows or target is False:
            continue
        if target is None:
            if "plan" in row.values and not row.values["plan"].active:
                plan.error(row.number, "plan", _no_longer_offered(row.values["plan"]))
            elif _keeps_the_rules(row, lookups.defaults(row), plan):
                plan.new.append(row)
            continue
        changes = _changes(row, target, lookups)
        refusal = _refused_change(changes, target, row.values)
        if refusal:
            plan.error(row.number, refusal[0], refusal[1])
        elif not changes:
            plan.unchanged.append((row, target))
        elif _keeps_the_rules(row, lookups.defaults(row) if "template" in changes else None, plan, target):
            plan.changed.append((row, target, changes))


def _keeps_the_rules(row: Row, defaults: TemplateDefaults | None, plan: Plan, existing: Existing | None = None) -> bool:
    """Whether the client as the row leaves it keeps the client rules: a new client from its template's defaults,
    or `existing` with the template applied again (`defaults`, when the row changes the template), then the row's
    own values over them. Each rule the row would break is an error on the row (one that `existing` breaks already,
    and still would, is not the row's doing)."""
    values = dict(existing.fields) if existing is not None else {}
    if defaults is not None:
        if defaults.peppol_refusal:
            plan.error(row.number, "template", defaults.peppol_refusal)
            return False
        values.update(defaults.client)
    values.update((attribute, row.values[key]) for key, attribute in CLIENT_FIELDS.items() if key in row.values)
    if defaults is not None:
        values.update(defaults.peppol)
    ibans = existing.ibans if existing is not None else set()
    counts = {"contacts": 1, "primary_contacts": 1}  # the row's contact is (or becomes) the primary one
    values.update(bank_accounts=len(ibans | ({row.values["iban"]} if "iban" in row.values else set())), **counts)
    known = rules.problems({**existing.fields, "bank_accounts": len(ibans), **counts}) if existing is not None else {}
    problems = {name: message for name, message in rules.problems(values).items() if known.get(name) != message}
    for name, message in problems.items():
        plan.rule_error(row.number, name, message)
    return not problems


def _identify(row: Row, by_number: dict, email_owner: dict, existing: dict, plan: Plan):
    """The existing client a row is about (None: a new one; False: the row conflicts with the database)."""
    number = row.values.get("enterprise_number")
    email = row.values.get("contact_email")
    target = existing.get(by_number.get(number)) if number else None
    owner_id, primary = email_owner.get(email, (None, False))
    if target is None and owner_id is not None and primary:
        candidate = existing[owner_id]
        candidate_number = candidate.fields["enterprise_number"]
        if not (number and candidate_number and candidate_number != number):
            target = candidate
    if owner_id is not None and (target is None or owner_id != target.id or not primary):
        owner = existing[owner_id]
        number = owner.fields["enterprise_number"]
        plan.error(row.number, "contact_email", _(
            "This e-mail address is already used by a contact of %(client)s (%(number)s): a contact's e-mail address "
            "may be used only once.", client=owner.fields["name"], number=v.format_enterprise_number(number)) if number else _(
            "This e-mail address is already used by a contact of %(client)s: a contact's e-mail address may be used "
            "only once.", client=owner.fields["name"]))
        return False
    return target


def _no_longer_offered(chosen) -> str:
    return _("The plan “%(name)s” is no longer offered: choose another one.", name=chosen.name)


def _refused_change(changes: dict, existing: Existing, values: dict) -> tuple[str, str] | None:
    """A change an import may not make to an existing client: (column key, why)."""
    if "plan" in changes and not values["plan"].active:
        return "plan", _no_longer_offered(values["plan"])
    if "contact_email" in changes and existing.contact and existing.status != ClientStatus.CREATED:
        return "contact_email", _("%(name)s was already invited at %(email)s: change its contact in the client's page, "
                                  "not by import.", name=existing.fields["name"], email=existing.contact["email"])
    return None


def _snapshots(client_ids: list[int]) -> dict[int, Existing]:
    attributes = dict.fromkeys([*CLIENT_FIELDS.values(), *RULE_FIELDS, "template_id", "group_id", "plan_id"])
    found = {
        row.id: Existing(row.id, row.status, dict(row._mapping), None, set())
        for row in db.session.execute(sa.select(Client.id, *(getattr(Client, a) for a in attributes))
                                      .where(Client.id.in_(client_ids)))
    }
    for contact in db.session.execute(
        sa.select(Contact.client_id, Contact.id, *[getattr(Contact, a) for a in CONTACT_FIELDS.values()])
        .where(Contact.client_id.in_(client_ids), Contact.is_primary.is_(True))
    ):
        found[contact.client_id].contact = dict(contact._mapping)
    for client_id, iban in db.session.execute(
        sa.select(BankAccount.client_id, BankAccount.iban).where(BankAccount.client_id.in_(client_ids))
    ):
        found[client_id].ibans.add(iban)
    return found


def _changes(row: Row, existing: Existing, lookups: Lookups) -> dict:
    values = row.values
    changes = {}
    for key, attribute in CLIENT_FIELDS.items():
        if key in values and values[key] != existing.fields[attribute]:
            changes[key] = (existing.fields[attribute], values[key])
    contact = existing.contact or {}
    for key, attribute in CONTACT_FIELDS.items():
        if key in values and values[key] != contact.get(attribute):
            changes[key] = (contact.get(attribute), values[key])
    if "iban" in values and values["iban"] not in existing.ibans:
        changes["iban"] = (None, values["iban"])
    template = values.get("template")
    if template is not None and template.id != existing.fields["template_id"]:
        changes["template"] = (lookups.name_of(lookups.templates, existing.fields["template_id"]), template.name)
    group = values.get("group") or lookups.default_group
    if group is not None and group.id != existing.fields["group_id"]:
        changes["group"] = (lookups.name_of(lookups.groups, existing.fields["group_id"]), group.name)
    chosen = values.get("plan")
    if chosen is not None and chosen.id != existing.fields["plan_id"]:
        changes["plan"] = (lookups.name_of(lookups.plans, existing.fields["plan_id"]), chosen.name)
    return changes
