"""The password rule for everyone who signs in (staff and the clients' contacts), after NIST SP 800-63B: long
enough, not a common password, not a repeated or sequential run, and not the person's own e-mail or name. No
composition rules (a digit, a capital, ...), which the guideline advises against.

`problem()` says what is wrong, in the person's language; the models' set_password refuse such a password
(WeakPassword), whatever the path (forms, CLI, demo data); forms use AcceptablePassword to say it at the field.
`password_changed()` is what follows every new password of an account.
`hash_password()` is the one place that hashes a password, with PASSWORD_HASH_METHOD.
"""
import functools
import gzip
import re
import secrets
import unicodedata
from importlib import resources

from flask import current_app
from flask_babel import lazy_gettext as _l
from werkzeug.security import generate_password_hash
from wtforms.validators import ValidationError

MIN_LENGTH = 12
NAME_PART_MIN_LENGTH = 4  # shorter parts of a name ("Jo", "Li") are found inside too many good passwords
RULE = _l("At least %(num)d characters. Not a common password, and not your e-mail address or your name.",
          num=MIN_LENGTH)
_NAME_PARTS = re.compile(r"[^\W\d_]+")
_TRAILING_DIGITS_AND_SYMBOLS = re.compile(r"[\W\d_]+$")


def hash_password(password: str) -> str:
    """What is stored of a password: its hash by PASSWORD_HASH_METHOD (werkzeug's notation, the method in the hash)."""
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def stand_in_hash() -> str:
    """A hash made like the real ones (same method and cost) of a password no one knows."""
    return _stand_in_hash(current_app.config["PASSWORD_HASH_METHOD"])


@functools.cache
def _stand_in_hash(method: str) -> str:
    return generate_password_hash(secrets.token_hex(32), method=method)


class WeakPassword(ValueError):
    """A password the rule refuses; str() says why, in the person's language."""

    def __str__(self) -> str:
        return str(self.args[0])


@functools.cache
def common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords (clientdesk/data/README.md), lower-case."""
    data = resources.files("clientdesk").joinpath("data/common-passwords.txt.gz").read_bytes()
    return frozenset(gzip.decompress(data).decode().split())


def _normalised(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _is_repeated_or_sequential(password: str) -> bool:
    """One block over and over ("aaaaaaaaaaaa", "abcabcabcabc"), or a straight run up or down ("abcdefghijkl",
    "987654321098", digits wrapping around)."""
    if re.fullmatch(r"(.+?)\1+", password, re.S):
        return True
    steps = {(ord(b) - ord(a)) % 10 if a.isdigit() and b.isdigit() else ord(b) - ord(a)
             for a, b in zip(password, password[1:])}
    return steps in ({1}, {-1}, {9})


def _personal_parts(email: str | None, names) -> list[str]:
    """What of the person's e-mail address and name a password may not contain."""
    parts = []
    if email:
        email = _normalised(email.strip())
        local_part = email.split("@")[0]
        parts += [email, local_part] + _NAME_PARTS.findall(local_part)
    for name in names:
        parts += _NAME_PARTS.findall(_normalised(name or ""))
    return [part for part in parts if len(part) >= NAME_PART_MIN_LENGTH]


def problem(password: str, email: str | None = None, names=()) -> str | None:
    """What is wrong with `password` for the person with `email` and `names`, or None when it may be used."""
    normalised = _normalised(password)
    if len(normalised) < MIN_LENGTH:
        return _l("Use at least %(num)d characters.", num=MIN_LENGTH)
    base = _TRAILING_DIGITS_AND_SYMBOLS.sub("", normalised)
    if normalised in common_passwords() or base in common_passwords():
        return _l("This password is one of the most common passwords (or one with digits added): "
                  "attackers try those first. Choose another one.")
    if _is_repeated_or_sequential(normalised):
        return _l("This password is a repeated or sequential run of characters (like aaaa… or 1234…).")
    if any(part in normalised for part in _personal_parts(email, names)):
        return _l("The password may not contain your e-mail address or your name.")
    return None


def require_acceptable(password: str, email: str | None = None, names=()) -> None:
    reason = problem(password, email, names)
    if reason is not None:
        raise WeakPassword(reason)


class AcceptablePassword:
    """WTForms validator: the rule, for the person `person(form)` returns as (e-mail, [names])."""

    def __init__(self, person):
        self.person = person

    def __call__(self, form, field):
        if field.data:
            email, names = self.person(form)
            reason = problem(field.data, email, names)
            if reason is not None:
                raise ValidationError(str(reason))


def password_changed(user) -> None:
    """Everything that follows a new password of an account (staff or client user): the reset links still open stop
    working. (The place to end the account's other sessions too.)"""
    from .models import PasswordReset

    PasswordReset.void_open(user)
