"""Flask-Admin screens, built per app by `build_admin`."""
from flask_admin import Admin
from flask_admin.contrib.sqla import ModelView
from flask_admin.theme import Bootstrap4Theme
from flask_babel import lazy_gettext as _l

from ..models import (
    AllowedSender,
    AuditEvent,
    BankAccount,
    Client,
    ClientIntegration,
    ConfigTemplate,
    Contact,
    Document,
    FirmSettings,
    Group,
    IntegrationProduct,
    MailLog,
    Plan,
    Task,
    User,
)
from . import changes
from .activity import AuditView, MailLogView, TaskView
from .children import AllowedSenderView, BankAccountView, ClientIntegrationView
from .clients import ClientView
from .contacts import ContactView
from .dashboard import DashboardView
from .documents import DocumentView
from .imports import ImportView
from .notifications import NotificationView
from .people import GroupView, UserView
from .schedule import ScheduleView
from .setup import ConfigTemplateView, FirmSettingsView, IntegrationProductView, PlanView
from .wizard import NewClientWizard


def build_admin(app) -> Admin:
    admin = Admin(
        app,
        name="ClientDesk",
        index_view=DashboardView(name=_l("Dashboard"), url="/admin"),
        theme=Bootstrap4Theme(base_template="admin/clientdesk_base.html", fluid=True),
        csp_nonce_generator=app.jinja_env.globals["csp_nonce"],  # security_headers: Talisman's per-request nonce
    )
    clients = _l("Clients")
    setup = _l("Setup")
    views = [
        ClientView(Client, name=_l("Clients"), endpoint="client", category=clients),
        NewClientWizard(name=_l("New client"), endpoint="clientwizard", url="client/new-wizard"),
        ContactView(Contact, name=_l("Contacts"), endpoint="contact", category=clients),
        BankAccountView(BankAccount, name=_l("Bank accounts"), endpoint="bankaccount", category=clients),
        AllowedSenderView(AllowedSender, name=_l("Allowed senders"), endpoint="allowedsender", category=clients),
        ClientIntegrationView(ClientIntegration, name=_l("Client integrations"), endpoint="clientintegration", category=clients),
        DocumentView(Document, name=_l("Documents"), endpoint="document", category=clients),
        ImportView(name=_l("Import clients"), endpoint="import", category=clients),
        TaskView(Task, name=_l("Tasks"), endpoint="task"),
        NotificationView(name=_l("Notifications"), endpoint="notifications", url="notifications"),
        ScheduleView(name=_l("Schedule"), endpoint="schedule", url="schedule", category=setup),
        UserView(User, name=_l("Users"), endpoint="user", category=setup),
        GroupView(Group, name=_l("Groups"), endpoint="group", category=setup),
        ConfigTemplateView(ConfigTemplate, name=_l("Templates"), endpoint="template", category=setup),
        IntegrationProductView(IntegrationProduct, name=_l("Integration catalogue"), endpoint="integration", category=setup),
        PlanView(Plan, name=_l("Plans"), endpoint="plan", category=setup),
        FirmSettingsView(FirmSettings, name=_l("Firm"), endpoint="firm", category=setup),
        AuditView(AuditEvent, name=_l("Audit log"), endpoint="audit", category=setup),
        MailLogView(MailLog, name=_l("E-mail log"), endpoint="maillog", url="email-log", category=setup),
    ]
    admin.add_views(*views)
    app.extensions[changes.EXTENSION] = changes.AuditFields(view for view in views if isinstance(view, ModelView))
    return admin
