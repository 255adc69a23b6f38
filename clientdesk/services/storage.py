"""Where document files live: DOCUMENTS_DIR/<client id>/<yyyy-mm>/<random>.<ext>. The database keeps
the path relative to DOCUMENTS_DIR and the original file name (for display and download)."""
import os
import uuid
from pathlib import Path

from ..models import utcnow


class DocumentStore:
    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()

    @classmethod
    def from_config(cls, config) -> "DocumentStore":
        return cls(config["DOCUMENTS_DIR"])

    def save(self, client_id: int, filename: str, data: bytes) -> str:
        """Write the file (fsynced, then renamed into place, so a crash never leaves half a file), then fsync the
        folders whose entries changed, so that after a crash the file is there under its name."""
        suffix = Path(filename).suffix.lower()
        if not suffix[1:].isalnum() or len(suffix) > 10:
            suffix = ""
        relative = Path(str(client_id), utcnow().strftime("%Y-%m"), f"{uuid.uuid4().hex}{suffix}")
        target = self.root / relative
        new_folders = [folder for folder in (target.parent, target.parent.parent) if not folder.exists()]
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(target.suffix + ".part")
        with open(partial, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        partial.rename(target)
        for folder in [target.parent, *(folder.parent for folder in new_folders)]:
            _fsync_folder(folder)
        return relative.as_posix()

    def path(self, relative: str) -> Path:
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError(f"{relative!r} is outside the documents folder")
        return path

    def delete(self, relative: str) -> None:
        self.path(relative).unlink(missing_ok=True)


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
