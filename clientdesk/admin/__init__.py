"""Flask-Admin screens, built per app by `build_admin`."""
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme
from flask_babel import lazy_gettext as _l

from ..models import (
    AllowedSender, AuditEvent, BankAccount, Client, ClientIntegration, ConfigTemplate, Contact, Document, Group,
    IntegrationProduct, Task, User,
)
from .activity import AuditView, TaskView
from .children import AllowedSenderView, BankAccountView, ClientIntegrationView
from .clients import ClientView
from .contacts import ContactView
from .dashboard import DashboardView
from .documents import DocumentView
from .imports import ImportView
from .people import GroupView, UserView
from .setup import ConfigTemplateView, IntegrationProductView
from .wizard import NewClientWizard


def build_admin(app) -> Admin:
    admin = Admin(
        app,
        name="ClientDesk",
        index_view=DashboardView(name=_l("Dashboard"), url="/admin"),
        theme=Bootstrap4Theme(base_template="admin/clientdesk_base.html", fluid=True),
    )
    clients = _l("Clients")
    setup = _l("Setup")
    admin.add_view(ClientView(Client, name=_l("Clients"), endpoint="client", category=clients))
    admin.add_view(NewClientWizard(name=_l("New client"), endpoint="clientwizard", url="client/new-wizard"))
    admin.add_view(ContactView(Contact, name=_l("Contacts"), endpoint="contact", category=clients))
    admin.add_view(BankAccountView(BankAccount, name=_l("Bank accounts"), endpoint="bankaccount", category=clients))
    admin.add_view(AllowedSenderView(AllowedSender, name=_l("Allowed senders"), endpoint="allowedsender", category=clients))
    admin.add_view(ClientIntegrationView(ClientIntegration, name=_l("Client integrations"), endpoint="clientintegration", category=clients))
    admin.add_view(DocumentView(Document, name=_l("Documents"), endpoint="document", category=clients))
    admin.add_view(ImportView(name=_l("Import clients"), endpoint="import", category=clients))
    admin.add_view(TaskView(Task, name=_l("Tasks"), endpoint="task"))
    admin.add_view(UserView(User, name=_l("Users"), endpoint="user", category=setup))
    admin.add_view(GroupView(Group, name=_l("Groups"), endpoint="group", category=setup))
    admin.add_view(ConfigTemplateView(ConfigTemplate, name=_l("Templates"), endpoint="template", category=setup))
    admin.add_view(IntegrationProductView(IntegrationProduct, name=_l("Integration catalogue"), endpoint="integration", category=setup))
    admin.add_view(AuditView(AuditEvent, name=_l("Audit log"), endpoint="audit", category=setup))
    return admin
