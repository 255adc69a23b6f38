"""Realistic Belgian demo data: groups, staff with known demo logins, clients in every status."""
import random
from datetime import timedelta
from decimal import Decimal

from stdnum import iban as stdnum_iban

from . import rules
from .extensions import db
from .forms import validators as v
from .i18n import language_of_locale
from .models import (
    BankAccount,
    Client,
    ClientStatus,
    ClientUser,
    ClientUserRole,
    CompanyType,
    ConfigTemplate,
    Contact,
    ContactSource,
    Group,
    PeppolState,
    Plan,
    Role,
    SubscriptionMode,
    User,
    VatFrequency,
    utcnow,
)
from .models.audit import acting_as
from .models.integration import ClientIntegration, IntegrationProduct, ensure_catalogue
from .models.invitation import INVITATION_VALID_DAYS
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


def make_client(rng: random.Random, number: str, groups, staff, status: ClientStatus, index: int) -> Client:
    postal_code, city, language = rng.choice(CITIES)
    surname = rng.choice(NAMES)
    name = f"{rng.choice(PREFIXES)} {surname} {rng.choice(SUFFIXES)}"
    mode = rng.choice((SubscriptionMode.FULL, SubscriptionMode.FULL, SubscriptionMode.DELIVERY_ONLY, SubscriptionMode.MANAGED))
    client = Client(
        name=name,
        country="BE",
        enterprise_number=number,
        vat_number="BE" + number,
        vat_frequency=rng.choice(list(VatFrequency)).value,
        subscription_mode=mode.value,
        street=rng.choice(STREETS),
        house_number=str(rng.randint(1, 250)),
        postal_code=postal_code,
        city=city,
        language=language,
        group=groups[GROUP_OF_CITY[city]],
        firm_contact=rng.choice(staff),
        external_reference=f"EXT-{index:05d}",
        status=status.value,
        website=f"https://www.{surname.lower().replace(' ', '').replace('è', 'e')}{index}.example.com",
    )
    first = rng.choice(FIRST_NAMES)
    client.contacts.append(
        Contact(
            first_name=first, last_name=surname, email=f"{first.lower().replace('é', 'e')}.{index}@client{index}.example.com",
            language=language, is_primary=True, mobile=f"+3247{rng.randint(1000000, 9999999)}", civility=rng.choice(("mr", "ms")),
        )
    )
    if mode == SubscriptionMode.MANAGED or rng.random() < 0.5:
        client.bank_accounts.append(BankAccount(iban=belgian_iban(rng), label="Main account"))
    now = utcnow()
    if status in (ClientStatus.INVITED, ClientStatus.ACTIVE, ClientStatus.DEACTIVATED):
        client.invited_at = now - timedelta(days=rng.randint(1, 40))
        client.invitation_expires_at = client.invited_at + timedelta(days=INVITATION_VALID_DAYS)
    if status in (ClientStatus.ACTIVE, ClientStatus.DEACTIVATED):
        client.activated_at = client.invited_at + timedelta(days=rng.randint(0, 5))
        client.trial_end = (client.activated_at + timedelta(days=30)).date()
        client.invitation_expires_at = None
        if rng.random() < 0.5:
            client.plan_chosen_at = client.activated_at + timedelta(days=rng.randint(1, 25))
            client.plan_chosen_by = f"{client.contacts[0].full_name} <{client.contacts[0].email}>"
        if rng.random() < 0.4:
            client.peppol_send = client.peppol_receive = client.e_invoicing_mandate = True
            client.peppol_state = PeppolState.REGISTERED.value
    if status == ClientStatus.DEACTIVATED:
        client.deactivated_at = now - timedelta(days=rng.randint(0, 10))
    return client


def fill_client_record(rng: random.Random, client: Client, earlier: list[Client]) -> None:
    """The client record's fields from the CRM reference page, on some demo clients (their own random numbers, so
    the rest of the demo data stays as it was): company type, parent company (an earlier client of the same group),
    address line 2, a billing address of its own, the contact's switchboard phone and where it came from."""
    client.company_type = rng.choice((CompanyType.COMPANY,) * 6 + tuple(CompanyType)).value
    same_group = [other for other in earlier[-50:] if other.group is client.group and other.parent is None]
    if same_group and rng.random() < 0.08:
        client.parent = rng.choice(same_group)
    if rng.random() < 0.15:
        client.address_line2 = rng.choice(("Bâtiment B", "2e étage", "Gebouw A", "Bus 3, 1e verdieping"))
    if rng.random() < 0.2:
        client.billing_same_as_address = False
        client.billing_street, client.billing_house_number = rng.choice(STREETS), str(rng.randint(1, 250))
        client.billing_postal_code, client.billing_city, _language = rng.choice(CITIES)
        client.billing_country = "BE"
    contact = client.contacts[0]
    if rng.random() < 0.4:
        contact.switchboard_phone = f"+322{rng.randint(2000000, 7999999)}"
    contact.source = rng.choice(list(ContactSource)).value if rng.random() < 0.7 else None


def ensure_client_user() -> None:
    """The demo portal account: owner of the first active demo client, for its primary contact."""
    if ClientUser.by_email(DEMO_CLIENT_USER) is not None:
        return
    client = db.session.scalars(db.select(Client).where(Client.status == ClientStatus.ACTIVE.value).order_by(Client.id)).first()
    if client is None:
        return
    contact = client.primary_contact
    client_user = ClientUser(client=client, contact=contact, email=DEMO_CLIENT_USER, full_name=contact.full_name,
                             role=ClientUserRole.OWNER.value, ui_language=language_of_locale(contact.language))
    client_user.set_password(DEMO_PASSWORD)
    contact.accepted_at = client.activated_at
    db.session.add(client_user)
    db.session.commit()


def load_demo(clients: int = 200, seed: int = 2026) -> dict:
    """Create the demo groups, users, templates and `clients` clients (idempotent for users and groups)."""
    rng = random.Random(seed)
    record_rng = random.Random(seed + 1)
    made = []
    with acting_as(None):
        ensure_catalogue()
        groups = ensure_groups()
        users = ensure_users(groups)
        templates = ensure_templates(groups)
        plans = ensure_plans()
        db.session.flush()
        staff = [u for u in users if u.role == Role.STAFF]
        products = list(db.session.scalars(db.select(IntegrationProduct)))
        existing = set(db.session.scalars(db.select(Client.enterprise_number)))
        statuses = [ClientStatus.CREATED] * 3 + [ClientStatus.INVITED] * 3 + [ClientStatus.ACTIVE] * 6 + [ClientStatus.DEACTIVATED]
        start = db.session.scalar(db.select(db.func.count(Client.id))) or 0
        created = 0
        while created < clients:
            number = enterprise_number(rng)
            if number in existing:
                continue
            existing.add(number)
            client = make_client(rng, number, groups, staff, rng.choice(statuses), start + created + 1)
            fill_client_record(record_rng, client, made)
            made.append(client)
            client.plan = rng.choice(plans)
            if rng.random() < 0.6:
                template = rng.choice(templates)
                client.template = template
                client.integration = ClientIntegration(product=template.integration_product or rng.choice(products),
                                                       delivery_method="email", delivery_email=template.delivery_email)
            rules.check(client)
            db.session.add(client)
            created += 1
            if created % 500 == 0:
                db.session.flush()
        db.session.commit()
        ensure_client_user()
    load_sample_register()  # a few hundred companies for the new-client wizard to find
    return {"clients": created, "users": [u.email for u in users] + [DEMO_CLIENT_USER], "password": DEMO_PASSWORD}
