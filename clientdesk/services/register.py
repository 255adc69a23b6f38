"""Company register lookup (KBO/BCE): find a company by number or name, get what autofills a client.

`CompanyRegister` is what the rest of the app uses (the new-client wizard, the VAT re-check);
`LocalRegister` answers from the open data that `flask kbo load` put in the database. A remote
register (the KBO web service, VIES) would be another `CompanyRegister`, installed in
`app.extensions["clientdesk.company_register"]`; nothing here calls the network.

Name search, on both databases: names are folded (lower case, no accents, punctuation as spaces,
plus `isbw` for `I.S.B.W.` and `dieteren` for `D'Ieteren`) into `kbo_denomination.search`. A query
looks in two indexes: names that start with the whole query (a B-tree range), and names that
contain a word starting with each query word (FTS5 on SQLite, a GIN full-text index on
PostgreSQL), at most `CANDIDATES` of them, looked up only when fewer than `limit` companies have a
name that starts with the query (those rank first anyway). Candidates are ranked best first: the
exact name, then names that start with the query, then names that contain every query word whole,
then the rest; official names before abbreviations and trade names, shorter before longer.
"""
import abc
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import date

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from ..extensions import db
from ..forms import validators as v
from ..models.client import CompanyType
from ..models.register import LIVE, SEARCH_TABLE, RegisterLoad

CANDIDATES = 300
PREFIX_CANDIDATES = 50
LANGUAGES = {"1": "fr", "2": "nl", "3": "de", "4": "en"}
LANGUAGE_CODES = {name: code for code, name in LANGUAGES.items()}
KINDS = {"001": 0, "003": 1, "002": 2, "004": 3}  # official name first, then trade name, abbreviation, branch name


def _fold_table() -> dict:
    table = {}
    for code in range(0x80, 0x250):
        base = "".join(c for c in unicodedata.normalize("NFKD", chr(code)) if not unicodedata.combining(c))
        if base.isascii() and base.isalnum():
            table[code] = base.lower()
    table.update({ord(c): r for c, r in {"ß": "ss", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "ø": "o", "Ø": "o",
                                           "đ": "d", "Đ": "d", "ł": "l", "Ł": "l"}.items()})
    for code in range(128):
        table[code] = chr(code).lower() if chr(code).isalnum() else " "
    return table


_FOLD = _fold_table()
_JOINERS = {ord(c): None for c in ".'’"}


def fold(text: str | None) -> str:
    """Lower case, without accents, punctuation as single spaces: `Lefèvre & Fils S.A.` → `lefevre fils s a`."""
    folded = (text or "").translate(_FOLD)
    if not folded.isascii():  # letters outside Latin-1/Latin Extended-A (rare in the register)
        folded = "".join(c for c in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(c)).lower()
        folded = "".join(c if c.isalnum() else " " for c in folded)
    return " ".join(folded.split())


def search_text(name: str) -> str:
    """What a name is indexed as: its folded words, plus the words that dots and apostrophes split."""
    words = fold(name)
    if "." in name or "'" in name or "’" in name:
        present = set(words.split())
        extra = [w for w in fold(name.translate(_JOINERS)).split() if w not in present]
        if extra:
            return f"{words} {' '.join(extra)}"
    return words


_NUMBER_QUERY = re.compile(r"^\s*(be)?[\s.\-/]*\d[\d\s.\-/]*$", re.IGNORECASE)


# Juridical forms (the register's codes) whose company type is not simply "company".
NON_PROFIT_FORMS = frozenset({"017", "125"})  # association sans but lucratif / vzw, and its international form
PUBLIC_BODY_FORMS = frozenset({"124"})  # établissement public / openbare instelling


@dataclass(frozen=True)
class Company:
    """What the register knows about one enterprise, in the words a client record uses."""

    enterprise_number: str
    name: str
    language: str | None = None  # fr, nl, de or en: the language of `name`
    legal_form: str | None = None
    legal_form_code: str | None = None
    natural_person: bool = False
    street: str | None = None
    house_number: str | None = None
    box: str | None = None
    postal_code: str | None = None
    city: str | None = None
    foreign_country: str | None = None  # the seat's country when it is not Belgium, as the register names it
    website: str | None = None
    email: str | None = None
    phone: str | None = None
    start_date: date | None = None
    other_names: tuple[str, ...] = field(default_factory=tuple)
    matched_name: str | None = None  # the name the query found, when it is not `name`

    @property
    def vat_number(self) -> str:
        return "BE" + self.enterprise_number

    @property
    def display_number(self) -> str:
        return v.format_enterprise_number(self.enterprise_number)

    @property
    def company_type(self) -> str | None:
        """The client record's company type (models.CompanyType) the register suggests; None when it says nothing."""
        if self.natural_person:
            return CompanyType.SOLE_TRADER.value
        if self.legal_form_code in NON_PROFIT_FORMS:
            return CompanyType.NON_PROFIT.value
        if self.legal_form_code in PUBLIC_BODY_FORMS:
            return CompanyType.PUBLIC_BODY.value
        return CompanyType.COMPANY.value if self.legal_form_code else None

    @property
    def address_line(self) -> str:
        street = " ".join(p for p in (self.street, self.house_number) if p)
        if street and self.box:
            street = _("%(street)s box %(box)s", street=street, box=self.box)
        town = " ".join(p for p in (self.postal_code, self.city) if p)
        return ", ".join(p for p in (street, town, self.foreign_country) if p)

    def as_dict(self) -> dict:
        data = asdict(self)
        data.update(vat_number=self.vat_number, display_number=self.display_number, address=self.address_line,
                    start_date=self.start_date.isoformat() if self.start_date else None, other_names=list(self.other_names))
        return data


@dataclass(frozen=True)
class RegisterInfo:
    loaded: bool
    label: str = ""
    enterprises: int = 0


class CompanyRegister(abc.ABC):
    @abc.abstractmethod
    def info(self) -> RegisterInfo:
        """Whether the register can answer, and from which data."""

    @abc.abstractmethod
    def search(self, query: str, limit: int = 10, language: str = "fr") -> list[Company]:
        """Companies for a number in any format (`BE0403170701`, `0403.170.701`, `403170701`, a prefix of
        at least 3 digits) or a name (accents and case ignored, word prefixes), best first."""

    @abc.abstractmethod
    def get(self, enterprise_number: str, language: str = "fr") -> Company | None:
        """The company with this enterprise number (stored form, 10 digits), if the register has it."""

    @abc.abstractmethod
    def known_numbers(self, enterprise_numbers) -> set[str]:
        """Which of these enterprise numbers the register has."""


class LocalRegister(CompanyRegister):
    """The register loaded from KBO open data into this database."""

    def info(self) -> RegisterInfo:
        load = RegisterLoad.active()
        if load is None:
            return RegisterInfo(loaded=False)
        return RegisterInfo(loaded=True, label=str(load), enterprises=load.enterprises)

    def search(self, query: str, limit: int = 10, language: str = "fr") -> list[Company]:
        query = (query or "").strip()
        if not query or RegisterLoad.active() is None:
            return []
        if _NUMBER_QUERY.match(query):
            return self._number_search(re.sub(r"\D", "", query), limit, language)
        return self._name_search(query, limit, language)

    def get(self, enterprise_number: str, language: str = "fr") -> Company | None:
        if RegisterLoad.active() is None:
            return None
        companies = self._companies([enterprise_number], language)
        return companies[0] if companies else None

    def get_many(self, enterprise_numbers, language: str = "fr") -> dict[str, Company]:
        """The companies the register has among these enterprise numbers, by number."""
        numbers = sorted(set(enterprise_numbers))
        if not numbers or RegisterLoad.active() is None:
            return {}
        found = {}
        for start in range(0, len(numbers), 500):
            found.update((company.enterprise_number, company) for company in self._companies(numbers[start:start + 500], language))
        return found

    def known_numbers(self, enterprise_numbers) -> set[str]:
        numbers = sorted(set(enterprise_numbers))
        if not numbers or RegisterLoad.active() is None:
            return set()
        known = set()
        number = LIVE.enterprise.c.number
        for start in range(0, len(numbers), 500):
            known.update(db.session.scalars(sa.select(number).where(number.in_(numbers[start:start + 500]))))
        return known

    # Number search: the whole number, or the numbers that start with what was typed so far
    def _number_search(self, digits: str, limit: int, language: str) -> list[Company]:
        if len(digits) >= 9:
            try:
                return self._companies([v.enterprise_number(digits)], language)
            except v.InvalidValue:
                return []
        if len(digits) < 3:
            return []
        prefix = digits if digits[0] in "01" else "0" + digits
        number = LIVE.enterprise.c.number
        numbers = db.session.scalars(
            sa.select(number).where(number >= prefix, number < prefix + ":").order_by(number).limit(limit)
        ).all()
        return self._companies(numbers, language)

    # Name search
    def _name_search(self, query: str, limit: int, language: str) -> list[Company]:
        phrase = fold(query)
        words = [w for w in fold(query.translate(_JOINERS)).split() if len(w) >= 2]
        if not phrase:
            return []
        candidates = self._prefix_candidates(phrase)
        # Word matches rank below names that start with the query: look for them only if those are too few.
        # The words before the last one are taken as typed in full; only if that finds nothing are they
        # also taken as beginnings of words ("bras dup"), a slower query on common words.
        if words and len({row.number for row in candidates}) < limit:
            found = self._word_candidates(words, every_word_a_prefix=False)
            if not found and len(words) > 1:
                found = self._word_candidates(words, every_word_a_prefix=True)
            candidates += found
        best = {}
        for row in candidates:
            score = _score(row.search, row.kind, phrase, words)
            if row.number not in best or score < best[row.number][0]:
                best[row.number] = (score, row.name)
        ranked = sorted(best.items(), key=lambda item: item[1][0])[:limit]
        return self._companies([number for number, _ in ranked], language,
                               matched={number: name for number, (_, name) in ranked})

    def _prefix_candidates(self, phrase: str) -> list:
        d = LIVE.denomination
        return db.session.execute(
            sa.select(d.c.number, d.c.kind, d.c.name, d.c.search)
            .where(d.c.search >= phrase, d.c.search < phrase + "\uffff")
            .order_by(d.c.search)
            .limit(PREFIX_CANDIDATES)
        ).all()

    def _word_candidates(self, words: list[str], every_word_a_prefix: bool) -> list:
        """Names with every word (the last one, or all, as the beginning of a word). Words are folded to
        letters and digits, so quoting them is enough to keep them plain terms in either query syntax."""
        prefixes = [every_word_a_prefix or i == len(words) - 1 for i in range(len(words))]
        if db.session.get_bind().dialect.name == "postgresql":
            statement = sa.text(
                "SELECT number, kind, name, search FROM kbo_denomination "
                "WHERE to_tsvector('simple', search) @@ to_tsquery('simple', :words) LIMIT :limit"
            ).bindparams(words=" & ".join(f"'{w}'" + (":*" if p else "") for w, p in zip(words, prefixes)), limit=CANDIDATES)
        else:
            statement = sa.text(
                "SELECT number, kind, name, search FROM kbo_denomination WHERE id IN "
                f"(SELECT rowid FROM {SEARCH_TABLE} WHERE {SEARCH_TABLE} MATCH :words LIMIT :limit)"
            ).bindparams(words=" ".join(f'"{w}"' + ("*" if p else "") for w, p in zip(words, prefixes)), limit=CANDIDATES)
        return db.session.execute(statement).all()

    # Details of a few enterprises: five indexed queries, whatever their number
    def _companies(self, numbers, language: str, matched: dict | None = None) -> list[Company]:
        numbers = list(dict.fromkeys(numbers))
        if not numbers:
            return []
        t = LIVE
        enterprises = {r.number: r for r in db.session.execute(sa.select(t.enterprise).where(t.enterprise.c.number.in_(numbers)))}
        if not enterprises:
            return []
        names, addresses, contacts = {}, {}, {}
        for row in db.session.execute(sa.select(t.denomination.c.number, t.denomination.c.language, t.denomination.c.kind,
                                                t.denomination.c.name).where(t.denomination.c.number.in_(enterprises))):
            names.setdefault(row.number, []).append(row)
        for row in db.session.execute(sa.select(t.address).where(t.address.c.number.in_(enterprises))):
            addresses.setdefault(row.number, row)
        for row in db.session.execute(sa.select(t.contact).where(t.contact.c.number.in_(enterprises))):
            contacts.setdefault(row.number, {}).setdefault(row.kind, row.value)
        forms = {}
        codes = {r.legal_form for r in enterprises.values() if r.legal_form}
        if codes:
            for row in db.session.execute(sa.select(t.code).where(t.code.c.category == "JuridicalForm", t.code.c.code.in_(codes))):
                forms.setdefault(row.code, {})[row.language.lower()] = row.description
        companies = []
        for number in numbers:
            if number in enterprises:
                companies.append(_company(enterprises[number], names.get(number, []), addresses.get(number),
                                          contacts.get(number, {}), forms, language, (matched or {}).get(number)))
        return companies


def _score(search: str, kind: str, phrase: str, words: list[str]) -> tuple:
    if search == phrase:
        tier = 0
    elif search.startswith(phrase):
        tier = 1
    else:
        tokens = search.split()
        tier = 2 if all(w in tokens for w in words) else 3
    return tier, KINDS.get(kind, 4), len(search), search


def _company(enterprise, names, address, contacts, forms, language, matched) -> Company:
    preferred = [LANGUAGE_CODES.get(language, "1"), "1", "2", "3", "0", "4"]
    official = sorted((n for n in names if n.kind == "001"), key=lambda n: preferred.index(n.language) if n.language in preferred else 9)
    others = sorted((n for n in names if n.kind != "001"), key=lambda n: KINDS.get(n.kind, 4))
    chosen = (official or others)[0] if names else None
    name = chosen.name if chosen else enterprise.number
    name_language = LANGUAGES.get(chosen.language) if chosen else None
    side = "nl" if (name_language or language) == "nl" else "fr"

    def pick(row, stem):
        first, second = (f"{stem}_{side}", f"{stem}_{'fr' if side == 'nl' else 'nl'}")
        return getattr(row, first) or getattr(row, second) or None

    form_labels = forms.get(enterprise.legal_form, {})
    website = contacts.get("WEB")
    if website and "://" not in website:
        website = "https://" + website
    other_names = tuple(dict.fromkeys(n.name for n in official[1:] + others if n.name != name))
    return Company(
        enterprise_number=enterprise.number,
        name=name,
        language=name_language,
        legal_form=form_labels.get(name_language or language) or form_labels.get(side) or next(iter(form_labels.values()), None),
        legal_form_code=enterprise.legal_form,
        natural_person=enterprise.kind == "1",
        street=pick(address, "street") if address else None,
        house_number=(address.house_number or None) if address else None,
        box=(address.box or None) if address else None,
        postal_code=(address.zipcode or None) if address else None,
        city=pick(address, "municipality") if address else None,
        foreign_country=pick(address, "country") if address else None,
        website=website,
        email=contacts.get("EMAIL"),
        phone=contacts.get("TEL"),
        start_date=enterprise.start_date,
        other_names=other_names,
        matched_name=matched if matched and matched != name else None,
    )


def company_register() -> CompanyRegister:
    """The app's company register (the local one unless another was installed)."""
    return current_app.extensions.setdefault("clientdesk.company_register", LocalRegister())
