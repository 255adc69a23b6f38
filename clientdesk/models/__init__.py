"""The data model, one module per aggregate."""
from . import client as _client
from .audit import AuditEvent
from .base import today, utcnow
from .client import (
    BankAccount,
    Client,
    ClientNote,
    ClientStatus,
    CompanyType,
    PeppolState,
    SubscriptionMode,
    VatFrequency,
    client_favourites,
    client_watchers,
)
from .client_user import ClientUser, ClientUserRole
from .contact import Civility, Contact, ContactSource
from .document import AllowedSender, Document, DocumentStatus, DocumentType, RefusedSender, SenderVerdict
from .firm import FirmSettings, UnauthenticatedMail
from .group import DEFAULT_GROUP_NAME, Group, group_members
from .import_batch import ImportBatch, ImportStatus
from .integration import ClientIntegration, CreditCardStatements, DeliveryMethod, IntegrationProduct
from .invitation import Invitation, InvitationReminder, InvitationStatus, ReminderStatus
from .mail_log import MailKind, MailLog, MailOutcome
from .notification import Notification, NotificationKind, NotifyBy
from .password_reset import PasswordReset
from .plan import Plan
from .proposal import ChangeProposal, ProposalState, ProposalSubject
from .register import ExtractType, RegisterLoad, RegisterLoadStatus
from .register_change import RegisterChange, RegisterChangeState, RegisterField
from .task import Task, TaskKind, TaskStatus
from .template import ConfigTemplate
from .trial_reminder import TrialReminder, TrialReminderRecipient
from .two_factor import RecoveryCode
from .user import ListColumns, Role, SavedFilter, User

_client.configure_computed_columns()

__all__ = [
    "AllowedSender", "AuditEvent", "BankAccount", "ChangeProposal", "Civility", "Client", "ClientIntegration", "ClientNote",
    "CompanyType", "ContactSource",
    "ClientStatus", "ClientUser", "ClientUserRole",
    "ConfigTemplate", "Contact", "CreditCardStatements", "DEFAULT_GROUP_NAME", "DeliveryMethod",
    "Document", "DocumentStatus", "DocumentType", "FirmSettings", "Group", "ImportBatch", "ImportStatus",
    "IntegrationProduct", "Invitation", "InvitationReminder", "InvitationStatus", "ListColumns", "MailKind", "MailLog", "MailOutcome",
    "Notification", "NotificationKind", "NotifyBy", "PasswordReset", "PeppolState", "Plan",
    "ProposalState", "ProposalSubject",
    "ExtractType", "RecoveryCode", "RefusedSender", "ReminderStatus", "RegisterChange", "RegisterChangeState", "RegisterField",
    "RegisterLoad", "RegisterLoadStatus", "Role", "SavedFilter",
    "SenderVerdict",
    "SubscriptionMode", "Task", "TaskKind", "TaskStatus", "TrialReminder", "TrialReminderRecipient", "UnauthenticatedMail", "User",
    "VatFrequency", "client_favourites", "client_watchers", "group_members", "today", "utcnow",
]
