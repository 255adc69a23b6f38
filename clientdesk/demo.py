"""Realistic Belgian demo data: groups, staff with known demo logins, clients in every status."""
import contextlib
import random
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa
from stdnum import iban as stdnum_iban

from .extensions import db
from .forms import validators as v
from .forms.validators import format_iban
from .i18n import language_of_locale
from .imports.writer import NewRows, insert_audited, new_ids, secondary_indexes_set_aside
from .models import (
    AuditEvent,
    BankAccount,
    Client,
    ClientStatus,
    ClientUser,
    ClientUserRole,
    CompanyType,
    ConfigTemplate,
    Contact,
    ContactSource,
    DeliveryMethod,
    Group,
    PeppolState,
    Plan,
    Role,
    SubscriptionMode,
    User,
    VatFrequency,
    utcnow,
)
from .models.audit import acting_as, audit_stamp
from .models.client import INBOUND_MAIL_DOMAIN
from .models.integration import ClientIntegration, IntegrationProduct, ensure_catalogue
from .models.invitation import INVITATION_VALID_DAYS
from .search import bulk_client_inserts, search_text
from .services.kbo_loader import load_sample_register

DEMO_PASSWORD = "demo-password-2026"
DEMO_CLIENT_USER = "client@example.com"  # signs in to the portal (/portal/login) as the owner of an active demo client
DEMO_USERS = (
    # e-mail, name, role, groups
    ("admin@example.com", "Ann Admin", Role.ADMIN, ()),
    ("supervisor@example.com", "Sam Supervisor", Role.SUPERVISOR, ()),
    ("staff.brussels@example.com", "Bram Peeters", Role.STAFF, ("Team Brussels", "Everyone")),
    ("staff.antwerp@example.com", "An Janssens", Role.STAFF, ("Team Antwerp",)),
    ("staff.liege@example.com", "Luc Dubois", Role.STAFF, ("Team Liège",)),
    ("staff.gent@example.com", "Griet Maes", Role.STAFF, ("Team Gent",)),
)
GROUPS = ("Everyone", "Team Brussels", "Team Antwerp", "Team Liège", "Team Gent")

PREFIXES = ("Bakkerij", "Brasserie", "Atelier", "Garage", "Immo", "Cabinet", "Boulangerie", "Transport", "Studio", "Dakwerken",
            "Pharmacie", "Brouwerij")
NAMES = ("Peeters", "Janssens", "Maes", "Jacobs", "Mertens", "Willems", "Claes", "Goossens", "Wouters", "De Smet", "Dubois", "Lambert",
         "Dupont", "Martin", "Leroy", "Lefèvre", "Van Damme", "Hermans", "Desmet", "Renard")
SUFFIXES = ("BV", "SRL", "NV", "SA", "CommV", "BVBA", "SPRL", "& Zonen", "& Fils")
FIRST_NAMES = ("Jan", "Marie", "Pieter", "Sofie", "Luc", "Emma", "Tom", "Julie", "Koen", "Claire", "Wim", "Élodie", "Jean", "Nathalie",
               "Bart", "Chloé")
CITIES = (
    ("1000", "Brussel", "nl-BE"), ("1050", "Ixelles", "fr-BE"), ("2000", "Antwerpen", "nl-BE"), ("9000", "Gent", "nl-BE"),
    ("4000", "Liège", "fr-BE"), ("5000", "Namur", "fr-BE"), ("8000", "Brugge", "nl-BE"), ("3000", "Leuven", "nl-BE"),
    ("6000", "Charleroi", "fr-BE"), ("4700", "Eupen", "de-BE"), ("7000", "Mons", "fr-BE"), ("2800", "Mechelen", "nl-BE"),
)
STREETS = ("Kerkstraat", "Rue de la Station", "Stationsstraat", "Rue Haute", "Dorpstraat", "Avenue Louise", "Nieuwstraat",
           "Rue du Moulin", "Molenstraat", "Grote Markt")
GROUP_OF_CITY = {"Brussel": "Team Brussels", "Ixelles": "Team Brussels", "Antwerpen": "Team Antwerp", "Mechelen": "Team Antwerp",
                 "Liège": "Team Liège", "Namur": "Team Liège", "Charleroi": "Team Liège", "Eupen": "Team Liège", "Mons": "Team Liège",
                 "Gent": "Team Gent", "Brugge": "Team Gent", "Leuven": "Everyone"}


def enterprise_number(rng: random.Random) -> str:
    """A valid Belgian enterprise number (mod-97 check digits); about one in ten from the 1-series."""
    base = rng.randint(1_000_000, 9_999_999) if rng.random() < 0.1 else rng.randint(2_000_000, 9_999_999)
    first = "1" if base < 2_000_000 or rng.random() < 0.1 else "0"
    body = f"{first}{base:07d}"
    return body + f"{97 - int(body) % 97:02d}"


def belgian_iban(rng: random.Random) -> str:
    """A Belgian IBAN that the app's IBAN check accepts: national check digits (the bank code and account number
    mod 97, 97 for 0), IBAN check digits, and a bank code that a Belgian bank has."""
    while True:
        national = f"{rng.randint(1, 999):03d}{rng.randint(0, 9_999_999):07d}"
        bban = f"{national}{int(national) % 97 or 97:02d}"
        try:
            return v.iban(f"BE{stdnum_iban.calc_check_digits('BE00' + bban)}{bban}")
        except v.InvalidValue:
            continue  # a bank code that no Belgian bank has


def ensure_groups() -> dict[str, Group]:
    groups = {}
    for name in GROUPS:
        groups[name] = Group.by_name(name) or Group(name=name)
        db.session.add(groups[name])
    return groups


def ensure_users(groups: dict[str, Group]) -> list[User]:
    users = []
    for email, name, role, group_names in DEMO_USERS:
        user = User.by_email(email)
        if user is None:
            user = User(email=email, full_name=name, role=role.value)
            user.set_password(DEMO_PASSWORD)
            user.groups = [groups[g] for g in group_names]
            db.session.add(user)
        users.append(user)
    return users


def ensure_templates(groups) -> list[ConfigTemplate]:
    products = {p.name: p for p in db.session.scalars(db.select(IntegrationProduct))}
    specs = (
        ("Standard (Exact Online)", SubscriptionMode.FULL, "Exact Online", True),
        ("Delivery only (Winbooks)", SubscriptionMode.DELIVERY_ONLY, "Winbooks", False),
        ("Managed by the firm", SubscriptionMode.MANAGED, "Octopus", True),
    )
    templates = []
    for name, mode, product, peppol in specs:
        template = ConfigTemplate.by_name(name)
        if template is None:
            template = ConfigTemplate(
                name=name, description=f"{mode.label}, documents to {product}", subscription_mode=mode.value,
                integration_product=products.get(product), delivery_method="email",
                delivery_email=f"inbox@{product.lower().replace(' ', '')}.example.com",
                e_invoicing_mandate=peppol, peppol_send=peppol,
            )
            db.session.add(template)
        templates.append(template)
    return templates


DEMO_PLANS = (
    # name, monthly price (EUR), what it includes, offered
    ("Basic", "15.00", "Document delivery to your accounting software, 50 documents a month", True),
    ("Standard", "35.00", "Full follow-up, Peppol sending and receiving, 250 documents a month", True),
    ("Premium", "75.00", "Full follow-up, Peppol, unlimited documents, a dedicated accountant", True),
    ("Legacy 2024", "25.00", "The former all-in plan, no longer offered", False),
)


def ensure_plans() -> list[Plan]:
    plans = []
    for position, (name, price, includes, active) in enumerate(DEMO_PLANS, start=1):
        plan = db.session.scalars(db.select(Plan).where(Plan.name == name)).first()
        if plan is None:
            plan = Plan(name=name, monthly_price=Decimal(price), includes=includes, active=active, sort_order=10 * position)
            db.session.add(plan)
        plans.append(plan)
    return plans


CHUNK = 10_000  # demo clients generated and written at a time: what the load holds in memory
# A load of at least this many clients, and more than there are, rebuilds the tables' indexes after it (PostgreSQL).
REBUILD_INDEXES_FROM = 50_000
IBANS = 500  # distinct bank accounts the demo clients draw from (a client has at most one)
AUDIT_ACTION = "create"  # as the audit's flush hook records a created row
STATUSES = [ClientStatus.CREATED] * 3 + [ClientStatus.INVITED] * 3 + [ClientStatus.ACTIVE] * 6 + [ClientStatus.DEACTIVATED]
MODES = (SubscriptionMode.FULL, SubscriptionMode.FULL, SubscriptionMode.DELIVERY_ONLY, SubscriptionMode.MANAGED)
VAT_FREQUENCIES = [f.value for f in VatFrequency]


@dataclass
class DemoSetting:
    """What the demo clients are made of besides chance: the ids of the rows they refer to, and a few hundred valid
    IBANs (checking an IBAN costs more than making the rest of a client)."""

    group_ids: dict[str, int]
    staff_ids: list[int]
    plan_ids: list[int]
    templates: list[tuple[int, int | None, str]]  # id, integration product id, delivery e-mail
    products: dict[int, str]  # integration product id -> what its integration of a client is called
    ibans: list[str]


DEMO_MODELS = (Client, Contact, BankAccount, ClientIntegration)  # the tables a demo client has rows in


def demo_enterprise_number(index: int) -> str:
    """The enterprise number of the `index`th demo client: distinct for every index up to nine million (a
    multiplier prime to 9,000,000 spreads them), so a load of a million needs no set of those already made; about
    one in ten from the 1-series, with valid mod-97 check digits."""
    base = 1_000_000 + index * 7_368_787 % 9_000_000
    body = f"{'1' if base < 2_000_000 or base % 10 == 0 else '0'}{base:07d}"
    return body + f"{97 - int(body) % 97:02d}"


def demo_inbound_email(index: int) -> str:
    """The inbound address of the `index`th demo client: an odd multiplier modulo 2**40 gives every index its own
    10 hex digits (random ones, as new clients get, would meet twice in a million)."""
    return f"{index * 0x9E3779B97F % 2 ** 40:010x}@{INBOUND_MAIL_DOMAIN}"


def make_client(rng: random.Random, index: int, client_id: int, setting: DemoSetting, now, tables: dict) -> None:
    """Add the rows of one demo client to `tables` (model -> NewRows): the one place that says what a demo
    client's columns hold.

    They keep every client rule by construction (a managed client has a bank account, Peppol comes with the
    mandate, the enterprise number and a registered state, each status with its date, one primary contact), so
    the load does not ask rules.check of each row: it writes a million rows in the time that would take for a few
    thousand. tests/test_demo.py loads them and checks every rule, in Python and in SQL."""
    postal_code, city, language = rng.choice(CITIES)
    surname = rng.choice(NAMES)
    name = f"{rng.choice(PREFIXES)} {surname} {rng.choice(SUFFIXES)}"
    mode = rng.choice(MODES)
    status = rng.choice(STATUSES)
    number = demo_enterprise_number(index)
    first = rng.choice(FIRST_NAMES)
    email = f"{first.lower().replace('é', 'e')}.{index}@client{index}.example.com"
    external_reference = f"EXT-{index:05d}"
    client = {
        "id": client_id, "name": name, "country": "BE", "enterprise_number": number, "vat_number": "BE" + number,
        "vat_frequency": rng.choice(VAT_FREQUENCIES), "subscription_mode": mode.value, "street": rng.choice(STREETS),
        "house_number": str(rng.randint(1, 250)), "postal_code": postal_code, "city": city, "language": language,
        "group_id": setting.group_ids[GROUP_OF_CITY[city]], "firm_contact_id": rng.choice(setting.staff_ids),
        "external_reference": external_reference, "status": status.value,
        "website": f"https://www.{surname.lower().replace(' ', '').replace('è', 'e')}{index}.example.com",
        "plan_id": rng.choice(setting.plan_ids), "inbound_email": demo_inbound_email(index),
        "search_text": search_text(name, number, "BE" + number, external_reference, None, [email]),
        "created_at": now, "updated_at": now,
    }
    contact = {"client_id": client_id, "first_name": first, "last_name": surname, "email": email, "language": language,
               "is_primary": True, "mobile": f"+3247{rng.randint(1000000, 9999999)}", "civility": rng.choice(("mr", "ms")),
               "created_at": now, "updated_at": now}
    fill_client_record(rng, client, contact, tables[Client].rows)
    tables[Client].add(client, name)
    tables[Contact].add(contact, Contact.describe(first, surname, email))
    if mode == SubscriptionMode.MANAGED or rng.random() < 0.5:
        iban = rng.choice(setting.ibans)
        tables[BankAccount].add({"client_id": client_id, "iban": iban, "label": "Main account", "created_at": now,
                                 "updated_at": now}, format_iban(iban))
    if status in (ClientStatus.INVITED, ClientStatus.ACTIVE, ClientStatus.DEACTIVATED):
        client["invited_at"] = now - timedelta(days=rng.randint(1, 40))
        client["invitation_expires_at"] = client["invited_at"] + timedelta(days=INVITATION_VALID_DAYS)
    if status in (ClientStatus.ACTIVE, ClientStatus.DEACTIVATED):
        client["activated_at"] = client["invited_at"] + timedelta(days=rng.randint(0, 5))
        client["trial_end"] = (client["activated_at"] + timedelta(days=30)).date()
        client["invitation_expires_at"] = None
        if rng.random() < 0.5:
            client["plan_chosen_at"] = client["activated_at"] + timedelta(days=rng.randint(1, 25))
            client["plan_chosen_by"] = Contact.describe(first, surname, email)
        if rng.random() < 0.4:
            client.update(peppol_send=True, peppol_receive=True, e_invoicing_mandate=True,
                          peppol_state=PeppolState.REGISTERED.value)
    if status == ClientStatus.DEACTIVATED:
        client["deactivated_at"] = now - timedelta(days=rng.randint(0, 10))
    if rng.random() < 0.6:
        template_id, product_id, delivery_email = rng.choice(setting.templates)
        client["template_id"] = template_id
        product_id = product_id or rng.choice(list(setting.products))
        tables[ClientIntegration].add({"client_id": client_id, "product_id": product_id, "delivery_method": "email",
                                       "delivery_email": delivery_email, "created_at": now, "updated_at": now},
                                      setting.products[product_id])


def fill_client_record(rng: random.Random, client: dict, contact: dict, clients: list[dict]) -> None:
    """The client record's fields from the CRM reference page, on some demo clients: company type, parent company
    (an earlier client of the chunk, `clients`, in the same group and without a parent of its own, so no chain is
    longer than one), address line 2, a billing address of its own, the contact's switchboard phone and source."""
    client["company_type"] = rng.choice((CompanyType.COMPANY,) * 6 + tuple(CompanyType)).value
    if rng.random() < 0.08:
        parents = [other["id"] for other in clients[-50:]
                   if other["group_id"] == client["group_id"] and other.get("parent_id") is None]
        if parents:
            client["parent_id"] = rng.choice(parents)
    if rng.random() < 0.15:
        client["address_line2"] = rng.choice(("Bâtiment B", "2e étage", "Gebouw A", "Bus 3, 1e verdieping"))
    if rng.random() < 0.2:
        postal_code, city, _language = rng.choice(CITIES)
        client.update(billing_same_as_address=False, billing_street=rng.choice(STREETS),
                      billing_house_number=str(rng.randint(1, 250)), billing_postal_code=postal_code,
                      billing_city=city, billing_country="BE")
    if rng.random() < 0.4:
        contact["switchboard_phone"] = f"+322{rng.randint(2000000, 7999999)}"
    if rng.random() < 0.7:
        contact["source"] = rng.choice(list(ContactSource)).value


def ensure_client_user() -> None:
    """The demo portal account: owner of the first active demo client, for its primary contact."""
    if ClientUser.by_email(DEMO_CLIENT_USER) is not None:
        return
    client = db.session.scalars(db.select(Client).where(Client.status == ClientStatus.ACTIVE.value).order_by(Client.id)
                                .limit(1)).first()
    if client is None:
        return
    contact = client.primary_contact
    client_user = ClientUser(client=client, contact=contact, email=DEMO_CLIENT_USER, full_name=contact.full_name,
                             role=ClientUserRole.OWNER.value, ui_language=language_of_locale(contact.language))
    client_user.set_password(DEMO_PASSWORD)
    contact.accepted_at = client.activated_at
    db.session.add(client_user)
    db.session.commit()


def load_demo(clients: int = 200, seed: int = 2026, chunk: int = CHUNK) -> dict:
    """Create the demo groups, users, templates and `clients` clients (idempotent for users and groups), `chunk`
    clients to a transaction."""
    rng = random.Random(seed)
    with acting_as(None):
        ensure_catalogue()
        groups = ensure_groups()
        users = ensure_users(groups)
        templates = ensure_templates(groups)
        plans = ensure_plans()
        db.session.flush()
        products = list(db.session.scalars(db.select(IntegrationProduct)))
        setting = DemoSetting(
            group_ids={name: group.id for name, group in groups.items()},
            staff_ids=[u.id for u in users if u.role == Role.STAFF], plan_ids=[p.id for p in plans],
            templates=[(t.id, t.integration_product_id, t.delivery_email) for t in templates],
            products={p.id: f"{p.name} ({DeliveryMethod.EMAIL.label})" for p in products},
            ibans=[belgian_iban(rng) for _ in range(IBANS)],
        )
        db.session.commit()
        created = add_clients(clients, rng, setting, chunk)
        ensure_client_user()
    load_sample_register()  # a few hundred companies for the new-client wizard to find
    return {"clients": created, "users": [u.email for u in users] + [DEMO_CLIENT_USER], "password": DEMO_PASSWORD}


def add_clients(count: int, rng: random.Random, setting: DemoSetting, chunk: int = CHUNK) -> int:
    """Write `count` demo clients with the import's bulk writer (COPY on PostgreSQL), `chunk` at a time, each with
    its audit rows; the index of a demo client (its references and e-mail addresses) follows the clients already
    there. A demo client's enterprise number or inbound address that another client has already taken is skipped.
    The number of clients written.

    Each chunk is committed, but for a large load on PostgreSQL (REBUILD_INDEXES_FROM): that one sets the tables'
    indexes aside and builds them again at the end, in one transaction, so that a load cut short leaves neither
    its rows nor tables without their indexes."""
    existing = db.session.scalar(sa.select(sa.func.count(Client.id))) or 0
    tables = [model.__table__ for model in (*DEMO_MODELS, AuditEvent)]
    in_one_go = db.engine.dialect.name == "postgresql" and count >= max(REBUILD_INDEXES_FROM, existing + 1)
    created, index = 0, existing + 1
    with secondary_indexes_set_aside(db.session.connection(), tables) if in_one_go else contextlib.nullcontext():
        while created < count:
            indexes = range(index, index + min(chunk, count - created))
            index = indexes.stop
            numbers = {demo_enterprise_number(i): i for i in indexes}
            addresses = {demo_inbound_email(i): i for i in indexes}
            taken = {numbers.get(number) for number in db.session.scalars(
                sa.select(Client.enterprise_number).where(Client.enterprise_number.in_(numbers)))}
            taken |= {addresses.get(address) for address in db.session.scalars(
                sa.select(Client.inbound_email).where(Client.inbound_email.in_(addresses)))}
            indexes = [i for i in indexes if i not in taken]
            _write_chunk(indexes, rng, setting)
            if not in_one_go:
                db.session.commit()
            created += len(indexes)
    db.session.commit()
    return created


def _write_chunk(indexes: list[int], rng: random.Random, setting: DemoSetting) -> None:
    if not indexes:
        return
    tables = {model: NewRows(model) for model in DEMO_MODELS}
    client_ids = []
    # The chunk's first id, known once the chunk holds the write lock (SQLite), read when its search index is built.
    first_id = sa.bindparam("first_id", callable_=lambda: client_ids[0])
    with bulk_client_inserts(db.session, sa.select(Client.id).where(Client.id >= first_id)):
        connection = db.session.connection()
        client_ids += new_ids(Client.__table__, len(indexes), connection)
        now = utcnow()
        for index, client_id in zip(indexes, client_ids):
            make_client(rng, index, client_id, setting, now, tables)
        stamp = audit_stamp(AUDIT_ACTION)
        for model, rows in tables.items():
            if model is not Client:
                for row, row_id in zip(rows.rows, new_ids(model.__table__, len(rows.rows), connection)):
                    row["id"] = row_id
        insert_audited(connection, stamp, tables.values())
