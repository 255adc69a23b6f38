"""An import's outcome as plain sentences (the CLI prints them; the web page shows the same facts)."""
from ..models import ImportBatch, ImportStatus


def error_line(error: dict) -> str:
    if not error["row"]:
        return error["message"]
    where = f"Row {error['row']}"
    if error["letter"]:
        where += f", column {error['letter']}" + (f" ({error['column']})" if error["column"] else "")
    return f"{where}: {error['message']}"


def change_line(change: dict) -> str:
    parts = ", ".join(f"{field} {old if old not in (None, '') else '(empty)'} → {new}" for field, (old, new) in change["changes"].items())
    return f"Row {change['row']} ({change['client']}): {parts}"


def summary_lines(batch: ImportBatch) -> list[str]:
    status = ImportStatus(batch.status)
    if status in (ImportStatus.INVALID, ImportStatus.FAILED):
        errors = f"{batch.error_count} error{'s' if batch.error_count != 1 else ''} to fix."
        head = f"Nothing was imported from {batch.filename}: " + (errors if status == ImportStatus.INVALID else "the import failed.")
        return [head] + [error_line(e) for e in batch.errors]
    changed = "would change" if batch.dry_run else "updated"
    lines = [
        ("Checked" if batch.dry_run else "Imported") + f" {batch.filename} ({batch.rows_count} rows): {batch.new_count} new, "
        f"{batch.unchanged_count} unchanged, {batch.changed_count} {changed}."
    ]
    lines += [change_line(change) for change in batch.changes]
    clients = f"{batch.invite_count} client{'s' if batch.invite_count != 1 else ''}"
    if batch.invite_count and batch.dry_run:
        lines.append(f"{clients} would be invited.")
    elif batch.invite_task_id:
        lines.append(f"Invitation of {clients} queued (task {batch.invite_task_id}).")
    elif batch.invite_error:
        lines.append(f"{clients} to invite, but the invitations could not be queued: {batch.invite_error}")
    if batch.dry_run:
        lines.append("Dry run: nothing was imported.")
    elif not batch.new_count and not batch.changed_count:
        lines.append("Nothing new: every client in the file is already there as it is.")
    return lines
