"""Languages and formats of the interface.

The interface speaks English, French, Dutch and German: the signed-in user's choice, else the choice made
on a public page such as the login page (session), else the browser's. Its locale is the Belgian variant of that language
(`fr_BE`, `nl_BE`, `de_BE`), so dates and numbers are written as in Belgium, and English as written in Europe
(`en_GB`: day first, decimal point); times are shown in Brussels time (they are stored in UTC). Jobs
run under the language of the request that started them (tasks.py). E-mails to a client's contact
are written in the contact's own language (services/invitation_mail.py).
"""
from datetime import UTC, date, datetime

from babel import Locale, UnknownLocaleError
from babel.dates import get_datetime_format
from babel.units import format_unit
from flask import current_app, has_request_context, request, session
from flask_babel import (
    format_currency,
    format_date,
    format_decimal,
    format_time,
    get_locale,
    lazy_gettext as _l,
    ngettext,
    to_user_timezone,
)
from flask_login import current_user

DEFAULT_LANGUAGE = "en"
LOCALES = {"en": "en_GB", "fr": "fr_BE", "nl": "nl_BE", "de": "de_BE"}


def locale_of(language: str | None) -> str:
    """The locale a language is written in here (`fr` → `fr_BE`)."""
    return LOCALES[language or DEFAULT_LANGUAGE]


def language_of_locale(locale: str | None) -> str | None:
    """The interface language of a contact's locale (`nl-BE` → `nl`); None when the interface does not speak it."""
    language = (locale or "").split("-")[0].lower()
    return language if language in current_app.config["LANGUAGES"] else None


def remember_language(language: str) -> None:
    """The interface language the visitor chose: kept on the account when signed in, in the session otherwise."""
    from .extensions import db

    session["language"] = language
    if current_user.is_authenticated:
        current_user.ui_language = language
        db.session.commit()


def request_language() -> str:
    if current_user.is_authenticated and current_user.ui_language in current_app.config["LANGUAGES"]:
        return current_user.ui_language
    return visitor_language()


def visitor_language() -> str:
    """The language chosen on a public page (session), else the browser's: what is known without the database."""
    languages = current_app.config["LANGUAGES"]
    if session.get("language") in languages:
        return session["language"]
    return request.accept_languages.best_match(languages) or DEFAULT_LANGUAGE


def select_locale() -> str:
    if not has_request_context():
        return locale_of(DEFAULT_LANGUAGE)  # jobs and commands choose theirs with flask_babel.force_locale
    return locale_of(request_language())


def current_language() -> str:
    """`en`, `fr`, `nl` or `de`: the language of the locale in force."""
    locale = get_locale()
    return locale.language if locale is not None else DEFAULT_LANGUAGE


def localdate(value) -> str:
    """A date as people read it: `7 Mar 2025`, `7 mars 2025`, `7 mrt 2025`, `07.03.2025`."""
    return "" if value is None else format_date(value, "medium")


def localdatetime(value) -> str:
    """A moment stored in UTC, in Brussels time: `7 mars 2025, 14:05`."""
    if value is None:
        return ""
    local = to_user_timezone(value)
    pattern = get_datetime_format("medium", locale=get_locale())
    return pattern.format(format_time(local, "short", rebase=False), format_date(local, "medium", rebase=False))


def local_today() -> date:
    """Today in Brussels time."""
    return to_user_timezone(datetime.now(UTC)).date()


def local_days_until(value: date | datetime) -> int:
    """Calendar days from today to a date, or to a moment stored in UTC, counted in Brussels time: 0 for
    today, 1 for tomorrow (a link that ends at 09:00 tomorrow expires tomorrow, though it has less than a day left)."""
    if isinstance(value, datetime):
        value = to_user_timezone(value).date()
    return (value - local_today()).days


# What an invitation link or a trial that ends soon says on its last two days, instead of "0 days left".
LAST_DAYS = {
    "invitation": (_l("expires today"), _l("expires tomorrow")),
    "trial": (_l("ends today"), _l("ends tomorrow")),
}


def days_left_words(what: str, days: int) -> str:
    """How long is left of an invitation link or a trial (`what`) with `days` calendar days to go (0 or more):
    "expires today", "expires tomorrow", "5 days left"."""
    last_days = LAST_DAYS[what]
    return str(last_days[days]) if days < len(last_days) else ngettext("%(num)d day left", "%(num)d days left", days)


def time_left(what: str, ends: date | datetime) -> str | None:
    """days_left_words for something that ends on `ends` (a date, or a moment stored in UTC); None once it ended."""
    days = local_days_until(ends)
    return days_left_words(what, days) if days >= 0 else None


def localnumber(value, format: str | None = None) -> str:
    """A count or amount with the locale's separators: `12,345.5` (en), `12 345,5` (fr), `12.345,5` (nl)."""
    return "" if value is None else format_decimal(value, format)


def euros(value) -> str:
    """An amount in EUR as the locale writes it: `€35.00` (en), `35,00 €` (fr), `€ 35,00` (nl)."""
    return "" if value is None else format_currency(value, "EUR")


def localsize(num_bytes: int) -> str:
    """A file size in the locale's units: `20 MB` (en, nl), `20 Mo` (fr), `512 kB`."""
    for unit, size in (("digital-megabyte", 1024 * 1024), ("digital-kilobyte", 1024)):
        if num_bytes >= size:
            return format_unit(num_bytes / size, unit, length="short", format="#,##0.#", locale=get_locale())
    return format_unit(num_bytes, "digital-byte", length="short", locale=get_locale())


def country_name(code: str | None) -> str:
    """A country code by its name in the user's language: `BE` → `Belgium`, `Belgique`, `België`, `Belgien`;
    an unknown code as it is."""
    if not code:
        return ""
    return get_locale().territories.get(code.upper(), code)


def language_name(code: str | None) -> str:
    """A language code (`nl-BE`, `fr`) by its name in the user's language: `Nederlands (België)`,
    `Néerlandais (Belgique)`; an unknown code as it is."""
    if not code:
        return ""
    try:
        name = Locale.parse(code.replace("-", "_")).get_display_name(get_locale())
    except (ValueError, UnknownLocaleError):
        return code
    return name[:1].upper() + name[1:] if name else code  # alone in a cell, not inside a sentence


def init_app(app) -> None:
    from .extensions import babel

    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.globals.update(get_locale=get_locale, current_language=current_language, time_left=time_left)
    app.jinja_env.filters.update(localdate=localdate, localdatetime=localdatetime, localnumber=localnumber, localsize=localsize,
                                 euros=euros, country_name=country_name, language_name=language_name)
