"""Company-register jobs."""
from .. import tasks, vat_check
from ..services.register import company_register


def recheck_vat(task_id: str) -> None:
    """After a register load: re-check the clients entered with "don't verify VAT"."""
    with tasks.running(task_id) as task:
        task.result = vat_check.recheck(company_register(), progress=lambda done, total: tasks.progress(task, done, total))
