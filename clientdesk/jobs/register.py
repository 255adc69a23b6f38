"""Company-register jobs."""
from flask import current_app

from .. import tasks, vat_check
from ..services.kbo_loader import load_inbox
from ..services.register import company_register


def recheck_vat(task_id: str) -> None:
    """After a register load: re-check the clients entered with "don't verify VAT"."""
    with tasks.running(task_id) as task:
        task.result = vat_check.recheck(company_register(), progress=lambda done, total: tasks.progress(task, done, total))


def load_updates(task_id: str) -> None:
    """The schedule "kbo_updates": the extracts waiting in KBO_INBOX_DIR loaded, in order."""
    with tasks.running(task_id) as task:
        task.result = load_inbox(current_app.config["KBO_INBOX_DIR"])
