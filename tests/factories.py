"""Rows for tests, created in their own short app context and returned detached (ids readable)."""
import itertools
from decimal import Decimal

from clientdesk.extensions import db
from clientdesk.models import BankAccount, Client, ClientUser, ClientUserRole, Contact, Group, PeppolState, Plan, Role, User, utcnow
from tests.helpers import PASSWORD

_sequence = itertools.count(1)
STATUS_DATES = {"invited": "invited_at", "active": "activated_at", "deactivated": "deactivated_at"}


def valid_enterprise_number(n: int) -> str:
    body = f"0{400000 + n:07d}"
    return body + f"{97 - int(body) % 97:02d}"


class Factory:
    def __init__(self, app):
        self.app = app

    def _save(self, obj):
        with self.app.app_context():
            db.session.add(obj)
            db.session.commit()
            db.session.refresh(obj)
            db.session.expunge(obj)
        return obj

    def group(self, name: str | None = None) -> Group:
        return self._save(Group(name=name or f"Team {next(_sequence)}"))

    def user(self, role: Role | str = Role.STAFF, groups=(), email: str | None = None, password: str = PASSWORD) -> User:
        n = next(_sequence)
        with self.app.app_context():
            user = User(email=email or f"user{n}@example.com", full_name=f"User {n}", role=str(Role(role).value))
            user.set_password(password)
            user.groups = [db.session.get(Group, g.id) for g in groups]
            db.session.add(user)
            db.session.commit()
            db.session.refresh(user)
            _ = user.groups
            db.session.expunge_all()
        return user

    def client(self, group: Group | None = None, contacts: int = 1, ibans=(), **fields) -> Client:
        """A client as the app would have left it: a status comes with its date, Peppol switches with a
        registration (registered, unless `peppol_state` says otherwise); `ibans`: its bank accounts."""
        n = next(_sequence)
        with self.app.app_context():
            group_id = group.id if group is not None else Group.default().id
            number = fields.pop("enterprise_number", valid_enterprise_number(n))
            status_date = STATUS_DATES.get(fields.get("status"))
            if status_date is not None:
                fields.setdefault(status_date, utcnow())
            if fields.get("peppol_send") or fields.get("peppol_receive"):
                fields.setdefault("peppol_state", PeppolState.REGISTERED.value)
            if "plan" in fields:
                fields["plan_id"] = fields.pop("plan").id
            client = Client(
                name=fields.pop("name", f"Client {n} BV"),
                enterprise_number=number,
                vat_number="BE" + number if number else None,
                group_id=group_id,
                **fields,
            )
            for i in range(contacts):
                client.contacts.append(
                    Contact(first_name=f"First{n}", last_name=f"Last{n}-{i}", email=f"contact{n}-{i}@client{n}.example.com",
                            language="fr-BE", is_primary=(i == 0))
                )
            client.bank_accounts.extend(BankAccount(iban=iban) for iban in ibans)
            db.session.add(client)
            db.session.commit()
            db.session.refresh(client)
            _ = client.contacts, client.bank_accounts
            db.session.expunge_all()
        return client


    def plan(self, name: str | None = None, price: str = "20.00", active: bool = True, sort_order: int = 0,
             includes: str = "") -> Plan:
        return self._save(Plan(name=name or f"Plan {next(_sequence)}", monthly_price=Decimal(price), active=active,
                               sort_order=sort_order, includes=includes))

    def client_user(self, client: Client, role: ClientUserRole | str = ClientUserRole.OWNER, email: str | None = None,
                    password: str = PASSWORD, ui_language: str | None = None) -> ClientUser:
        """A portal account of `client`, for its first contact."""
        n = next(_sequence)
        contact = client.contacts[0] if client.contacts else None
        client_user = ClientUser(client_id=client.id, contact_id=contact.id if contact else None,
                                 email=email or f"portal{n}@client.example.com", full_name=f"Portal User{n}",
                                 role=str(ClientUserRole(role).value), ui_language=ui_language)
        with self.app.app_context():
            client_user.client = db.session.get(Client, client.id)
            client_user.set_password(password)
            db.session.add(client_user)
            db.session.commit()
            db.session.refresh(client_user)
            db.session.expunge_all()
        return client_user


class Store:
    """Reads return detached rows with their columns loaded; each call has its own app context."""

    def __init__(self, app):
        self.app = app

    def run(self, fn):
        """fn(session) inside a fresh app context, committed; returns what fn returns (detached)."""
        with self.app.app_context():
            session = db.session()
            session.expire_on_commit = False  # keep the loaded columns readable after the commit
            result = fn(session)
            session.commit()
            session.expunge_all()
            return result

    def get(self, model, id):
        return self.run(lambda s: s.get(model, id))

    def one(self, model, **filters):
        return self.run(lambda s: s.query(model).filter_by(**filters).one())

    def all(self, model, **filters):
        return self.run(lambda s: s.query(model).filter_by(**filters).order_by(model.id).all())

    def count(self, model, **filters):
        return self.run(lambda s: s.query(model).filter_by(**filters).count())

    def update(self, model, id, **values):
        def apply(s):
            obj = s.get(model, id)
            for key, value in values.items():
                setattr(obj, key, value)
            return obj

        return self.run(apply)
