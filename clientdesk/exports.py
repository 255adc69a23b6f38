"""Client export (CSV or XLSX), streamed from the database: the list's export and `clients export`.

Values are as stored, not as labels: enterprise number as 10 digits, status as its code, group by
name, plan by name, the parent company by its enterprise number (empty when outside the user's groups),
the primary contact's e-mail, ISO dates, the latest invitation e-mail's delivery state (pending, sent,
failed; empty without an invitation). Text is kept from running as a formula (spreadsheets.py).
"""
import io
import tempfile
from datetime import date, datetime

import sqlalchemy as sa
from flask import Response, send_file, stream_with_context
from openpyxl import Workbook
from sqlalchemy.orm import aliased

from .extensions import db
from .models import Client, Contact, Group, Invitation, Plan, User
from .spreadsheets import csv_row, csv_writer, xlsx_value

BATCH = 1000

_primary = aliased(Contact)
_firm_contact = aliased(User)
_parent = aliased(Client)

EXPORT_COLUMNS = (
    ("id", Client.id),
    ("name", Client.name),
    ("enterprise_number", Client.enterprise_number),
    ("vat_number", Client.vat_number),
    ("country", Client.country),
    ("status", Client.status),
    ("group", Group.name),
    ("contact_email", _primary.email),
    ("trial_end", Client.trial_end),
    ("contact_first_name", _primary.first_name),
    ("contact_last_name", _primary.last_name),
    ("contact_language", _primary.language),
    ("contact_switchboard_phone", _primary.switchboard_phone),
    ("contact_source", _primary.source),
    ("external_reference", Client.external_reference),
    ("internal_reference", Client.internal_reference),
    ("subscription_mode", Client.subscription_mode),
    ("plan", Plan.name),
    ("vat_frequency", Client.vat_frequency),
    ("language", Client.language),
    ("firm_contact", _firm_contact.email),
    ("street", Client.street),
    ("house_number", Client.house_number),
    ("box", Client.box),
    ("postal_code", Client.postal_code),
    ("city", Client.city),
    ("address_line2", Client.address_line2),
    ("billing_same_as_address", Client.billing_same_as_address),
    ("billing_street", Client.billing_street),
    ("billing_house_number", Client.billing_house_number),
    ("billing_box", Client.billing_box),
    ("billing_address_line2", Client.billing_address_line2),
    ("billing_postal_code", Client.billing_postal_code),
    ("billing_city", Client.billing_city),
    ("billing_country", Client.billing_country),
    ("company_type", Client.company_type),
    ("parent_enterprise_number", _parent.enterprise_number),
    ("website", Client.website),
    ("peppol_send", Client.peppol_send),
    ("peppol_receive", Client.peppol_receive),
    ("hidden", Client.hidden),
    ("inbound_email", Client.inbound_email),
    ("created_at", Client.created_at),
    ("invitation_delivery", Invitation.of_latest(Client.id, Invitation.delivery_expression())),
)
HEADER = [name for name, _ in EXPORT_COLUMNS]


def export_statement(client_ids=None, visible_ids=None):
    """Rows to export, in id order; `client_ids` is a select of the client ids to keep (the user's filtered list),
    `visible_ids` a select of those the user sees (a parent company outside them is left empty).

    Id order streams from the primary key on both databases; name order would sort every row first
    (PostgreSQL's cursor plans favour the first rows, and a sort gives none until it has read them all).
    """
    stmt = (
        sa.select(*[column for _, column in EXPORT_COLUMNS])
        .select_from(Client)
        .join(Group, Group.id == Client.group_id)
        .outerjoin(_primary, sa.and_(_primary.client_id == Client.id, _primary.is_primary.is_(True)))
        .outerjoin(_firm_contact, _firm_contact.id == Client.firm_contact_id)
        .outerjoin(Plan, Plan.id == Client.plan_id)
        .outerjoin(_parent, sa.and_(_parent.id == Client.parent_id,
                                    sa.true() if visible_ids is None else _parent.id.in_(visible_ids.correlate(None))))
        .order_by(Client.id)
    )
    if client_ids is not None:
        stmt = stmt.where(Client.id.in_(client_ids))
    return stmt


def _indexes(python_types) -> list[int]:
    return [i for i, (_, column) in enumerate(EXPORT_COLUMNS) if column.type.python_type in python_types]


_FLAGS, _DATES = _indexes({bool}), _indexes({date, datetime})


def export_rows(client_ids=None, visible_ids=None):
    """The export's rows: None stays empty, booleans are true/false, dates ISO, text as stored (each format
    keeps it from running as a formula). Rows are streamed, `BATCH` at a time."""
    statement = export_statement(client_ids, visible_ids).execution_options(yield_per=BATCH)
    for row in db.session.connection().execute(statement):
        values = list(row)
        for i in _FLAGS:
            if values[i] is not None:
                values[i] = "true" if values[i] else "false"
        for i in _DATES:
            if values[i] is not None:
                values[i] = values[i].isoformat()
        yield values


def csv_chunks(client_ids=None, visible_ids=None):
    buffer = io.StringIO()
    writer = csv_writer(buffer)
    buffer.write("\ufeff")  # BOM, so Excel reads UTF-8
    writer.writerow(HEADER)
    for count, row in enumerate(export_rows(client_ids, visible_ids), start=1):
        writer.writerow(csv_row(row))
        if count % BATCH == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def write_xlsx(target, client_ids=None, visible_ids=None) -> int:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Clients")
    sheet.append(HEADER)
    count = 0
    for row in export_rows(client_ids, visible_ids):
        sheet.append([xlsx_value(sheet, value) for value in row])
        count += 1
    workbook.save(target)
    return count


def write_csv(path) -> int:
    count = 0
    with open(path, "w", encoding="utf-8-sig", newline="") as out:
        writer = csv_writer(out)
        writer.writerow(HEADER)
        for row in export_rows():
            writer.writerow(csv_row(row))
            count += 1
    return count


def client_export_response(client_ids, export_type: str, visible_ids=None):
    stamp = datetime.now().strftime("%Y%m%d-%H%M")
    if export_type == "csv":
        return Response(
            stream_with_context(csv_chunks(client_ids, visible_ids)),
            mimetype="text/csv; charset=utf-8",
            headers={"Content-Disposition": f"attachment; filename=clients-{stamp}.csv"},
        )
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    write_xlsx(spool, client_ids, visible_ids)
    spool.seek(0)
    return send_file(
        spool,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        as_attachment=True,
        download_name=f"clients-{stamp}.xlsx",
    )
