"""The RQ job behind the web upload: the same `run_batch` the CLI runs inline."""
from .. import tasks
from ..imports import remove_old_files, run_batch


def import_clients(task_id: str, batch_id: int) -> None:
    with tasks.running(task_id) as task:
        run_batch(batch_id, progress=lambda done, total: tasks.progress_apart(task.id, done, total))


def purge_files(task_id: str) -> None:
    """The schedule "purge_imports": the import files older than IMPORT_FILES_KEEP_DAYS deleted."""
    with tasks.running(task_id) as task:
        task.result = {"done": remove_old_files()}
