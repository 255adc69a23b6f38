"""Workbooks for the import tests, built with openpyxl (no binary fixtures), and a way to run an import."""
import zipfile
from pathlib import Path

from openpyxl import Workbook

# The Banqup template's French columns, as its users have them (plus our Invitation column).
BANQUP_FR = [
    "Raison sociale*", "Pays (code lettre)*", "Email de contact*", "Prénom du contact*", "Nom de famille du contact*",
    "Langue du contact (locale)*", "Numéro d'entreprise", "TVA", "Référence externe", "IBAN", "Rue", "Numéro",
    "Boîte postale", "Code postal", "Commune/ville", "Mandat", "Modèle", "Invitation",
]
DUTCH = [
    "Juridische naam*", "Land (lettercode)*", "E-mail contactpersoon*", "Voornaam contactpersoon*",
    "Achternaam contactpersoon*", "Taal contactpersoon (locale)*", "Ondernemingsnummer", "Btw", "Externe referentie",
    "IBAN", "Straat", "Huisnummer", "Bus", "Postcode", "Gemeente/stad", "Mandaat (Ja/Nee)", "Sjabloon",
    "Uitnodiging (Ja/Nee)",
]


def write_xlsx(path: Path, header: list, rows: list[list], sheet: str = "Clients") -> Path:
    workbook = Workbook()
    worksheet = workbook.active
    worksheet.title = sheet
    if header is not None:
        worksheet.append(header)
    for row in rows:
        worksheet.append(row)
    workbook.save(path)
    return path


def banqup_row(name="Boulangerie Dupont", email="marie@boulangerie-dupont.example.com", number="", vat="", **extra):
    """A valid row in the BANQUP_FR layout; `extra` sets columns by their key in that layout."""
    values = {
        "name": name, "country": "BE", "email": email, "first": "Marie", "last": "Dupont", "language": "fr-BE",
        "number": number, "vat": vat, "reference": "", "iban": "", "street": "Rue Haute", "house": "12", "box": "",
        "postal": "1000", "city": "Bruxelles", "mandate": "", "template": "", "invitation": "",
    }
    values.update(extra)
    return list(values.values())


def with_sheet_xml(source: Path, target: Path, replace: dict[str, str]) -> Path:
    """A copy of a workbook whose first sheet's XML has some text replaced (e.g. to add a formula with its cached value)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for item in old.infolist():
            data = old.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                text = data.decode()
                for before, after in replace.items():
                    assert before in text, before
                    text = text.replace(before, after)
                data = text.encode()
            new.writestr(item, data)
    return target


def run_import(app, path: Path, user, group=None, dry_run: bool = False):
    """Import as the CLI does (inline); the finished batch, detached, with the ids of the clients in the database."""
    from clientdesk.extensions import db
    from clientdesk.imports import create_batch, run_batch
    from clientdesk.models import Group, User

    with app.app_context():
        batch = create_batch(str(path), path.name, db.session.get(User, user.id),
                             group=db.session.get(Group, group.id) if group else None, dry_run=dry_run)
        db.session.commit()
        batch = run_batch(batch.id)
        _ = batch.errors_json
        db.session.expunge(batch)
        db.session.remove()
    return batch


def run_jobs(app) -> None:
    """Run the queued jobs here, the way `flask worker --burst` would."""
    from clientdesk.broker import get_redis
    from clientdesk.jobs.worker import AppWorker

    worker = AppWorker(["bulk"], connection=get_redis(app))
    worker.app = app
    worker.work(burst=True)
