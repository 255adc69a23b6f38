"""What the portal's upload takes: files of the kinds PORTAL_UPLOAD_TYPES names, each told by its content (never by
its name or the type the browser gives), none empty or larger than PORTAL_UPLOAD_MAX_BYTES. All the files of an
upload, or none."""
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import PurePath

from flask_babel import gettext as _, lazy_gettext as _l

from ..documents import Part, clean_filename, has_signature, is_ubl
from ..i18n import localsize


@dataclass(frozen=True)
class FileType:
    label: str
    content_type: str  # what the document is stored and downloaded as
    suffixes: tuple[str, ...]  # the first is added to a name that has none of them
    matches: Callable[[bytes], bool]


# By config.UPLOAD_TYPES' names.
FILE_TYPES = {
    "pdf": FileType("PDF", "application/pdf", (".pdf",), partial(has_signature, "application/pdf")),
    "xml": FileType(_l("UBL invoice or credit note (XML)"), "application/xml", (".xml",), is_ubl),
    "jpeg": FileType("JPEG", "image/jpeg", (".jpg", ".jpeg"), partial(has_signature, "image/jpeg")),
    "png": FileType("PNG", "image/png", (".png",), partial(has_signature, "image/png")),
}


class UploadRefused(Exception):
    """Some files of an upload cannot be taken: `problems`, one message per file; `status` 413 when one is too large."""

    def __init__(self, problems: list[str], status: int):
        super().__init__(" ".join(problems))
        self.problems, self.status = problems, status


def accepted_types(config) -> list[FileType]:
    return [FILE_TYPES[name] for name in config["PORTAL_UPLOAD_TYPES"]]


def checked(uploads, config) -> list[Part]:
    """The uploaded files (werkzeug FileStorage) as parts to store, named safely with an extension that fits their
    content; UploadRefused naming every file that cannot be taken."""
    max_bytes, types = config["PORTAL_UPLOAD_MAX_BYTES"], accepted_types(config)
    parts, problems, too_large = [], [], False
    for upload in uploads:
        name = clean_filename(upload.filename or "", "document")
        data = upload.read(max_bytes + 1)
        if not data:
            problems.append(_("%(name)s is empty.", name=name))
        elif len(data) > max_bytes:
            too_large = True
            problems.append(_("%(name)s is larger than %(size)s, the most a file may be.", name=name, size=localsize(max_bytes)))
        elif (file_type := next((kind for kind in types if kind.matches(data)), None)) is None:
            problems.append(_refusal(name, types))
        else:
            parts.append(Part(_named(name, file_type), file_type.content_type, data))
    if problems:
        raise UploadRefused(problems, 413 if too_large else 400)
    return parts


def _named(name: str, file_type: FileType) -> str:
    if PurePath(name).suffix.lower() in file_type.suffixes:
        return name
    return clean_filename(name + file_type.suffixes[0], "document")


def _refusal(name: str, types: list[FileType]) -> str:
    suffix = PurePath(name).suffix.lower()
    claimed = next((kind for kind in types if suffix in kind.suffixes), None)
    if claimed is not None:
        return _("%(name)s is not a real %(type)s file: its content is something else.", name=name, type=claimed.label)
    return _("%(name)s is not a kind of file the portal takes (%(types)s).", name=name,
             types=", ".join(str(kind.label) for kind in types))
