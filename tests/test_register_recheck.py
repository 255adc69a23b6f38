"""Clients entered with "don't verify VAT" are re-checked against the register after each load."""
import shutil

import sqlalchemy as sa

from clientdesk.models import AuditEvent, Client, Task, TaskStatus
from clientdesk.models.client import VatCheck
from clientdesk.services.kbo_loader import SAMPLE, load_register
from clientdesk.services.register import LocalRegister
from clientdesk.vat_check import recheck


def test_recheck_unmarks_known_numbers_and_flags_missing_ones(make, db_session):
    known = make.client(enterprise_number="1001234592", skip_vat_check=True, vat_check=VatCheck.PENDING.value)
    unknown = make.client(enterprise_number="0417497007", skip_vat_check=True, vat_check=VatCheck.PENDING.value)
    verified = make.client(enterprise_number="0403170701")
    load_register(SAMPLE)

    result = recheck(LocalRegister())

    assert result == {"checked": 2, "found": 1, "missing": 1}
    db_session.expire_all()
    found, missing, untouched = (db_session.get(Client, c.id) for c in (known, unknown, verified))
    assert (found.vat_check, found.skip_vat_check) == (None, False) and found.vat_checked_at is not None
    assert (missing.vat_check, missing.skip_vat_check) == (VatCheck.MISSING.value, True) and missing.vat_checked_at is not None
    assert untouched.vat_checked_at is None
    actions = db_session.scalars(sa.select(AuditEvent.action).where(AuditEvent.client_id.in_([known.id, unknown.id]),
                                                                   AuditEvent.object_type == "client")).all()
    assert actions.count("vat_recheck") == 2


def test_nothing_is_flagged_while_the_register_is_empty(make, db_session):
    client = make.client(enterprise_number="1001234592", skip_vat_check=True, vat_check=VatCheck.PENDING.value)
    assert recheck(LocalRegister())["checked"] == 0
    assert db_session.get(Client, client.id).vat_check == VatCheck.PENDING.value


def test_kbo_load_queues_the_recheck_and_a_worker_runs_it(app, make, tmp_path, db_session):
    client = make.client(enterprise_number="0417497007", skip_vat_check=True, vat_check=VatCheck.PENDING.value)
    result = app.test_cli_runner().invoke(args=["kbo", "load", str(shutil.copytree(SAMPLE, tmp_path / "x"))])
    assert result.exit_code == 0, result.output
    assert "Re-check of “don't verify VAT” clients queued" in result.output

    from clientdesk.jobs.worker import run_worker

    with app.app_context():
        run_worker(burst=True)

    db_session.expire_all()
    task = db_session.scalars(sa.select(Task).where(Task.kind == "vat_recheck")).one()
    assert task.status == TaskStatus.FINISHED and task.result == {"checked": 1, "found": 0, "missing": 1}
    assert db_session.get(Client, client.id).vat_check == VatCheck.MISSING.value
