"""The "don't verify VAT" rule: a Belgian number that the company register does not know yet (a
company too new for the last extract) may be entered if its check digits are right; the client is
then marked, and re-checked against the register after every load until the register knows it."""
from flask_babel import gettext as _

from . import tasks
from .extensions import db
from .models import Client, utcnow
from .models.audit import audit_action
from .models.client import VatCheck

CHUNK = 500


def mark_unverified(client: Client) -> None:
    """The number was entered without checking it against the register: check it after the next load."""
    client.skip_vat_check = True
    client.vat_check = VatCheck.PENDING.value if client.country == "BE" and client.enterprise_number else None


def recheck(register, progress=None) -> dict:
    """Look up every marked client in the register: found ones are unmarked, the others flagged as missing.

    Commits after each chunk (re-running is harmless). `progress(done, total)` is called per chunk.
    """
    if not register.info().loaded:
        return {"checked": 0, "found": 0, "missing": 0, "note": "the company register is not loaded"}
    ids = db.session.scalars(
        db.select(Client.id).where(Client.vat_check.is_not(None), Client.enterprise_number.is_not(None)).order_by(Client.id)
    ).all()
    found = missing = 0
    for start in range(0, len(ids), CHUNK):
        clients = db.session.scalars(db.select(Client).where(Client.id.in_(ids[start:start + CHUNK]))).all()
        known = register.known_numbers(c.enterprise_number for c in clients)
        now = utcnow()
        with audit_action("vat_recheck"):
            for client in clients:
                if client.enterprise_number in known:
                    client.vat_check, client.skip_vat_check = None, False
                    found += 1
                else:
                    client.vat_check = VatCheck.MISSING.value
                    missing += 1
                client.vat_checked_at = now
            db.session.flush()
        db.session.commit()
        if progress is not None:
            progress(start + len(clients), len(ids))
    return {"checked": len(ids), "found": found, "missing": missing}


def launch_recheck(user=None):
    """Queue the re-check (raises tasks.QueueUnavailable when Redis is down)."""
    from .jobs.register import recheck_vat

    return tasks.launch("vat_recheck", _("Re-check “don't verify VAT” numbers against the company register"), recheck_vat,
                        user=user)
