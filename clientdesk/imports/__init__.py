"""Bulk import of clients from an .xlsx workbook (see DESIGN.md, "Bulk import").

columns.py   the columns and their FR/NL/EN headers
reader.py    file checks and reading the first worksheet (python-calamine)
validate.py  every row checked and matched with existing clients; no writes
writer.py    the writes, in one transaction
service.py   create_batch / run_batch: what the CLI and the RQ job both run
workbooks.py the template to fill in and the workbook annotated with its errors (openpyxl)
"""
from .service import create_batch, invite_after_import, remove_old_files, run_batch

__all__ = ["create_batch", "invite_after_import", "remove_old_files", "run_batch"]
