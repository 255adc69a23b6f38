"""The interface in French, Dutch and German, with nothing left in English.

Nets, so that text added without its translation fails here with the list of what is missing:
- the source: template text and flashed messages go through gettext, and no gettext call hides in an
  f-string (where the extractor cannot see it);
- the catalogs: every message the source holds now (extracted as `make translations` extracts it) has a
  French and a Dutch translation, with the same placeholders, compiled into the .mo files the app reads;
- the screens: every screen is opened in French and in Dutch with a small portfolio behind it, and
  every message looked up in a catalog (ours, Flask-Admin's, WTForms') that the catalog does not
  translate is recorded, as is every column or field label that Flask-Admin made up from a field name.

Then the language itself: per user (kept after signing out and in), from the browser otherwise, jobs in
the language of the request that launched them, e-mails in the contact's language.
"""
import json
import re
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask import render_template, url_for
from flask_admin.contrib.sqla import form as sqla_form
from flask_admin.model import BaseModelView
from flask_babel import Domain, force_locale, get_locale
from flask_babel.speaklater import LazyString

import clientdesk
from clientdesk.lifecycle import ClientLifecycle
from clientdesk.models import (
    AllowedSender,
    BankAccount,
    Client,
    ClientIntegration,
    ClientUser,
    ConfigTemplate,
    Document,
    ImportBatch,
    IntegrationProduct,
    PasswordReset,
    RefusedSender,
    Role,
    Task,
    User,
    today,
    utcnow,
)
from clientdesk.services.kbo_loader import SAMPLE, load_register
from tests.conftest import IsolatedClient
from tests.helpers import csrf_token, login, portal_login, post
from tests.import_files import run_jobs

CHECKOUT = Path(clientdesk.__file__).resolve().parent.parent
TRANSLATIONS = CHECKOUT / "clientdesk" / "translations"
LANGUAGES = ("fr", "nl", "de")
# The Makefile's `translations` target extracts with these keywords (on top of Babel's defaults).
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None, "ngettext": (1, 2)}
HOW_TO_FIX = ("run `make translations`, translate the new entries in clientdesk/translations/{fr,nl,de}/LC_MESSAGES/"
              "messages.po, then `make compile-translations`")


# The catalogs

def source_messages() -> dict:
    """msgid (a tuple for plural forms) → where it is used, extracted from the source as `make translations` does."""
    with open(CHECKOUT / "babel.cfg") as mapping:
        method_map, options_map = parse_mapping_cfg(mapping)
    found = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(CHECKOUT), method_map, options_map, keywords=KEYWORDS):
        found.setdefault(message, f"{filename}:{lineno}")
    return found


def catalog(language: str):
    with open(TRANSLATIONS / language / "LC_MESSAGES" / "messages.po", "rb") as po:
        return read_po(po, locale=language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_of_the_source_is_translated(language):
    messages = catalog(language)
    missing = []
    for msgid, where in sorted(source_messages().items(), key=lambda item: item[1]):
        key = msgid[0] if isinstance(msgid, tuple) else msgid
        entry = messages.get(key)
        strings = entry.string if entry is not None and isinstance(entry.string, tuple) else (entry.string if entry else "",)
        if entry is None or entry.fuzzy or not all(strings):
            missing.append(f"  {where}: {key!r}" + (" (fuzzy)" if entry is not None and entry.fuzzy else ""))
    if missing:
        pytest.fail(f"{len(missing)} messages without a {language} translation ({HOW_TO_FIX}):\n" + "\n".join(missing),
                    pytrace=False)


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_the_placeholders_and_plural_forms(language):
    problems = [f"  {message.id!r}: {'; '.join(map(str, errors))}" for message, errors in catalog(language).check()]
    if problems:
        pytest.fail(f"{language} translations that do not fit their message:\n" + "\n".join(problems), pytrace=False)


def _plain(value):
    return tuple(value) if isinstance(value, (list, tuple)) else value


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_compiled_catalogs_are_up_to_date(language):
    with open(TRANSLATIONS / language / "LC_MESSAGES" / "messages.mo", "rb") as mo:
        compiled = {_plain(message.id): _plain(message.string) for message in read_mo(mo) if message.id}
    written = {_plain(message.id): _plain(message.string) for message in catalog(language) if message.id and not message.fuzzy}
    assert compiled == written, f"messages.mo is older than messages.po for {language}: run `make compile-translations`"


def test_no_message_hides_in_an_f_string():
    """The extractor does not look inside f-strings (before Python 3.12): a message there is never translated."""
    call = re.compile(r"""\bf(["']).*?\{[^}]*\b(_|_l|gettext|ngettext|lazy_gettext)\(""")
    hidden = [f"  {path.relative_to(CHECKOUT)}:{number}: {line.strip()}"
              for path in sorted((CHECKOUT / "clientdesk").rglob("*.py"))
              for number, line in enumerate(path.read_text().splitlines(), start=1) if call.search(line)]
    if hidden:
        pytest.fail("gettext inside an f-string (call it before, outside the f-string):\n" + "\n".join(hidden), pytrace=False)


# Text of our templates that is not a message: the product's name, the languages' own names, an arrow.
UNTRANSLATED_TEXT = {"ClientDesk", "· ClientDesk", "Français", "Nederlands", "English", "&larr;"}


def test_the_templates_and_flash_messages_hold_no_bare_text():
    """Text written straight into a template, or flashed as a literal, would never reach a catalog."""
    bare = []
    for path in sorted((CHECKOUT / "clientdesk" / "templates").rglob("*.html")):
        if "mail" in path.parts:  # written per language
            continue
        text = re.sub(r"<script.*?</script>|\{#.*?#\}|\{\{.*?\}\}|\{%.*?%\}", "", path.read_text(), flags=re.S)
        for attribute in re.findall(r'(?:title|placeholder|aria-label|alt)="([^"]*[A-Za-z][^"]*)"', text):
            bare.append(f"  {path.relative_to(CHECKOUT)}: {attribute!r}")
        for line in re.sub(r"<[^>]*>", "\n", text).splitlines():
            if re.search(r"[A-Za-z]{2}", line) and line.strip() not in UNTRANSLATED_TEXT:
                bare.append(f"  {path.relative_to(CHECKOUT)}: {line.strip()!r}")
    for path in sorted((CHECKOUT / "clientdesk").rglob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if re.search(r"""\bflash\(\s*f?["']""", line):
                bare.append(f"  {path.relative_to(CHECKOUT)}:{number}: {line.strip()}")
    if bare:
        pytest.fail("Text that does not go through gettext ({{ _('...') }}, _('...')):\n" + "\n".join(bare), pytrace=False)


# The screens

# Labels WTForms makes up for fields that are never shown: Flask-Admin's hidden action and row-id fields,
# and the entries of an inline list ("Contacts-0"; the list's own label is shown).
HIDDEN_FIELD_LABELS = re.compile(r"Action|Url|Id|.+-\d+")


class MissingTranslations:
    """Records, per language, the messages looked up in a catalog that has no translation for them, and the
    labels Flask-Admin makes up from field names (which no catalog can translate)."""

    def __init__(self, monkeypatch):
        self.found = defaultdict(set)
        # Flask-Admin looks the texts we give it (action names) up again in its own catalog: ours are fine there.
        ours = {text for language in LANGUAGES for message in catalog(language) if message.id
                for text in (message.id, message.string) if isinstance(text, str)}
        original = Domain.get_translations
        recorder = self

        def get_translations(domain):
            translations, locale = original(domain), get_locale()
            if locale is None or locale.language == "en":
                return translations
            return _Recording(translations, recorder.found[locale.language], domain.domain[0], ours)

        monkeypatch.setattr(Domain, "get_translations", get_translations)
        prettify = BaseModelView._prettify_name
        monkeypatch.setattr(BaseModelView, "_prettify_name", lambda view, name: (
            self.found["all"].add(f"label made up by {type(view).__name__} for “{name}”") or prettify(view, name)))
        make_up = sqla_form.prettify_name
        monkeypatch.setattr(sqla_form, "prettify_name", lambda name: (
            self.found["all"].add(f"form label made up for “{name}”") or make_up(name)))

    def report(self) -> str:
        return "\n".join(f"{language}: {message}" for language, messages in sorted(self.found.items())
                         for message in sorted(messages))


class _Recording:
    def __init__(self, translations, found: set, domain: str, ours: set):
        self._translations, self._found, self._domain, self._ours = translations, found, domain, ours
        self._catalog = getattr(translations, "_catalog", {})

    def __getattr__(self, name):
        return getattr(self._translations, name)

    def _check(self, key, message) -> None:
        if not message or isinstance(message, LazyString) or key in self._catalog:
            return
        if (self._domain == "admin" and message in self._ours) or (
                self._domain == "wtforms" and HIDDEN_FIELD_LABELS.fullmatch(message)):
            return
        self._found.add(f"[{self._domain}] {message!r}")

    def ugettext(self, message):
        self._check(message, message)
        return self._translations.ugettext(message)

    def ungettext(self, singular, plural, n):
        self._check((singular, 0), singular)
        return self._translations.ungettext(singular, plural, n)

    def upgettext(self, context, message):
        self._check(f"{context}\x04{message}", message)
        return self._translations.upgettext(context, message)

    def unpgettext(self, context, singular, plural, n):
        self._check((f"{context}\x04{singular}", 0), singular)
        return self._translations.unpgettext(context, singular, plural, n)

    gettext, ngettext, pgettext, npgettext = ugettext, ungettext, upgettext, unpgettext


def _portfolio(app, make, store) -> dict:
    """A little of everything every screen can show: clients in each state, contacts, bank accounts,
    senders, integrations, documents, tasks, imports, templates, invitations and their audit trail."""
    team = make.group("Team Namur")
    staff = make.user(Role.STAFF, groups=[team])
    admin = make.user(Role.ADMIN, email="admin.walk@example.com")
    make.user(Role.SUPERVISOR)
    created = make.client(team, name="Boulangerie Lefèvre SRL")
    invited = make.client(team, name="Brouwerij De Kroon BV", contacts=2)
    active = make.client(team, name="Atelier Dupont SA", status="active", trial_end=today() + timedelta(days=12),
                         activated_at=utcnow(), e_invoicing_mandate=True, peppol_send=True, peppol_receive=True,
                         peppol_state="registered")
    taken = make.client(team, name="Garage Martin SRL", status="active", e_invoicing_mandate=True, peppol_send=True,
                        peppol_state="taken", peppol_other_smp="https://smp.other.example", peppol_other_provider="Other AP",
                        peppol_taken_at=utcnow(), skip_vat_check=True, vat_check="missing", vat_checked_at=utcnow())
    failed = make.client(team, name="Bakkerij Peeters BV", status="deactivated", peppol_send=True, peppol_state="failed",
                         peppol_message="The Peppol access point could not be reached", deactivated_at=utcnow())
    managed = make.client(team, name="Fiduciaire Interne", subscription_mode="managed", hidden=True,
                          vat_frequency="quarterly")

    def build(s):
        product = s.query(IntegrationProduct).filter_by(name="Clearfacts").one()
        s.add(ConfigTemplate(name="Clearfacts par e-mail", description="Documents to Clearfacts", integration_product=product,
                             delivery_method="email", delivery_email="docs@clearfacts.example", assigned_group_id=team.id))
        s.add(BankAccount(client_id=managed.id, iban="BE71096123456769", label="Compte courant"))
        s.add(AllowedSender(client_id=active.id, pattern="@fournisseur.example"))
        s.add(RefusedSender(client_id=active.id, header_from="spam@elsewhere.example", subject="Offre"))
        s.get(Client, active.id).refused_senders_count = 1
        s.add(ClientIntegration(client_id=active.id, product=product, delivery_method="email", delivery_email="docs@cf.example",
                                delivery_email_sales="sales@cf.example", attach_ubl=True))
        for status, doc_type in (("inbox", "purchase"), ("sent", "sales"), ("failed", "credit_card")):
            s.add(Document(client_id=active.id, filename=f"{status}.pdf", content_type="application/pdf", size=123456,
                           storage_path=f"{active.id}/{status}.pdf", status=status, doc_type=doc_type, sender="a@b.example",
                           error="Mail server unreachable" if status == "failed" else None,
                           delivered_to="docs@cf.example" if status == "sent" else None))
        client = s.get(Client, invited.id)
        for contact in client.contacts:
            contact.language = "nl-BE"
        invitation = ClientLifecycle.invite(client, by=s.get(User, staff.id))
        invitation.status = "sent"
        s.get(Client, created.id).firm_contact_id = staff.id
        s.add(Task(id="walk-finished", kind="bulk_invite", description="Invite 3 clients", status="finished", progress_done=3,
                   progress_total=3, user_id=admin.id, client_id=created.id, result_json=json.dumps({
                       "done": 1, "skipped": [{"client_id": created.id, "client": "X", "reason": "not eligible"}],
                       "failed": [{"client_id": invited.id, "client": "Y", "reason": "refused"}]})))
        s.add(Task(id="walk-failed", kind="peppol_sync", description="Peppol", status="failed", error="PeppolError: down",
                   user_id=admin.id, job_func="clientdesk.jobs.peppol.run_peppol", job_args_json='["sync", [1]]',
                   client_id=failed.id))
        s.add(Task(id="walk-queued", kind="import", description="Import", status="queued", user_id=admin.id))
        errors = ('[{"row": 0, "column": "", "letter": "", "message": "The file is damaged"}, '
                  '{"row": 3, "column": "TVA", "letter": "H", "message": "Not a VAT number"}]')
        changes = json.dumps([{"row": 4, "client_id": active.id, "client": "Atelier Dupont SA", "changes": {"Rue": ["Old", "New"]}}])
        batches = [
            ImportBatch(user_email="admin@example.com", filename="ok.xlsx", stored_path="/nowhere.xlsx", status="imported",
                        new_count=2, changed_count=1, changes_json=changes, invite_task_id="walk-finished",
                        invite_client_ids_json=f"[{created.id}]", finished_at=utcnow()),
            ImportBatch(user_email="admin@example.com", filename="bad.xlsx", stored_path="/nowhere.xlsx", status="invalid",
                        errors_json=errors, error_count=2, finished_at=utcnow()),
            ImportBatch(user_email="admin@example.com", filename="dry.xlsx", stored_path="/nowhere.xlsx", status="checked",
                        dry_run=True, changed_count=1, changes_json=changes, invite_count=1, invite_error="Redis is down",
                        finished_at=utcnow()),
            ImportBatch(user_email="admin@example.com", filename="broken.xlsx", stored_path="/nowhere.xlsx", status="failed",
                        failure="Nothing was imported", finished_at=utcnow()),
            ImportBatch(user_email="admin@example.com", filename="running.xlsx", stored_path="/nowhere.xlsx", status="running",
                        task_id="walk-queued"),
        ]
        s.add_all(batches)
        s.flush()
        return [batch.id for batch in batches]

    batch_ids = store.run(build)
    store.run(lambda s: load_register(SAMPLE))
    return {"staff": staff, "admin": admin, "team": team, "clients": [created, invited, active, taken, failed, managed],
            "batches": batch_ids, "tasks": ["walk-finished", "walk-failed", "walk-queued"]}


def _first_ids(app, view) -> list:
    with app.app_context():
        from clientdesk.extensions import db

        return list(db.session.scalars(db.select(view.model.id).order_by(view.model.id).limit(1)))


def _admin_pages(app, portfolio) -> list[str]:
    """Every admin screen: each model view's list, create form, details and edit form, plus the others."""
    from clientdesk.admin.base import ScopedModelView

    pages = []
    with app.test_request_context():
        for view in app.extensions["admin"][0]._views:
            if not isinstance(view, ScopedModelView):
                continue
            endpoint = view.endpoint
            pages.append(url_for(f"{endpoint}.index_view"))
            if view.create_role is not None:
                pages.append(url_for(f"{endpoint}.create_view"))
            ids = ([c.id for c in portfolio["clients"]] if view.model is Client else
                   portfolio["tasks"] if view.model is Task else _first_ids(app, view))
            for id_ in ids:
                pages.append(url_for(f"{endpoint}.details_view", id=id_))
            if view.edit_role is not None and ids:
                pages.append(url_for(f"{endpoint}.edit_view", id=ids[0]))
        client = portfolio["clients"][0]
        pages += [
            url_for("admin.index"),
            url_for("client.index_view", flt0_status_equals="invited", search="Brouwerij"),
            url_for("client.replace_contact_view", id=client.id),
            url_for("audit.index_view", flt0_action_equals="invite"),
            url_for("import.index"),
            *(url_for("import.batch_view", batch_id=batch_id) for batch_id in portfolio["batches"]),
            url_for("clientwizard.index", q="lefevre"),
            url_for("clientwizard.index", q="0403.170.702"),
        ]
    return pages


def _walk_wizard(http, portfolio) -> list:
    """The wizard's three steps, typed in (the pages depend on what the session holds)."""
    base = "/admin/client/new-wizard/"
    company = {"name": "Nouvelle Société SRL", "country": "BE", "enterprise_number": "", "vat_number": "",
               "skip_vat_check": "y", "action": "next"}
    details = {"template": "", "prefilled_template": "", "civility": "ms", "first_name": "Élodie", "last_name": "Lefèvre",
               "email": "elodie.walk@example.com", "mobile": "0478 11 22 33", "language": "nl-BE",
               "group": str(portfolio["team"].id), "firm_contact": "", "subscription_mode": "managed", "iban": "",
               "e_invoicing_mandate": "y", "action": "next"}
    return [
        post(http, base, {**company, "name": ""}),  # errors shown on step 1
        post(http, base, company),
        http.get(base + "details/"),
        post(http, base + "details/", {**details, "iban": ""}),  # a managed client needs a bank account
        post(http, base + "details/", {**details, "iban": "BE71 0961 2345 6769"}),
        http.get(base + "summary/"),
    ]


def _public_pages(app, store, language) -> list:
    """Pages without login, seen by a browser asking for `language`: sign-in, invitations, error pages."""
    http = app.test_client()
    headers = {"Accept-Language": f"{language}-BE,{language};q=0.9"}

    def invitation(status="sent", expires_in=21):
        def issue(s):
            client = s.query(Client).filter_by(status="invited").first()
            invitation = ClientLifecycle.resend(client)
            invitation.status = status
            invitation.expires_at = utcnow() + timedelta(days=expires_in)
            return invitation.token
        return store.run(issue)

    pages = [http.get("/login", headers=headers), http.get("/invitation/unknown-token", headers=headers)]
    for status, expires_in in (("accepted", 5), ("voided", 5), ("sent", -1)):
        pages.append(http.get(f"/invitation/{invitation(status, expires_in)}", headers=headers))
    token = invitation()
    pages.append(http.get(f"/invitation/{token}", headers=headers))
    pages.append(http.post(f"/invitation/{token}", headers=headers, data={"password": "short", "password_confirm": "x",
                                                                          "csrf_token": csrf_token(http, f"/invitation/{token}")}))
    pages.append(http.get("/portal/login", headers=headers))
    accepted = http.post(f"/invitation/{token}", headers=headers, data={
        "password": "a-long-password", "password_confirm": "a-long-password", "accept_terms": "y",
        "csrf_token": csrf_token(http, f"/invitation/{token}")})
    assert accepted.status_code == 302
    pages.append(http.get(accepted.headers["Location"], headers=headers))  # the portal, signed in
    pages.append(http.post("/login", headers=headers, data={"email": "nobody@example.com", "password": "wrong-password",
                                                            "csrf_token": csrf_token(http)}))
    with app.test_request_context(headers=headers):
        for error_page in ("errors/403.html", "errors/404.html", "errors/413.html", "errors/500.html"):
            render_template(error_page)
    return pages


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_screen_is_translated(language, app_config, make, store, monkeypatch):
    from clientdesk.app import create_app

    missing = MissingTranslations(monkeypatch)
    walked = create_app(dict(app_config))  # built here, so the labels its views make at start-up are checked too
    walked.test_client_class = IsolatedClient
    portfolio = _portfolio(walked, make, store)

    http = walked.test_client()
    login(http, portfolio["admin"].email)
    post(http, "/language", {"language": language})
    responses = []
    for page in _admin_pages(walked, portfolio):
        responses.append(http.get(page))
    monkeypatch.setitem(walked.config, "PEPPOL_AP_URL", "http://access-point.example")  # the Peppol switches
    responses += [http.get(f"/admin/client/details/?id={client.id}") for client in portfolio["clients"]]
    responses.append(http.get(f"/admin/import/{portfolio['batches'][-1]}/status.json"))
    responses += _walk_wizard(http, portfolio)
    staff = walked.test_client()  # no language chosen: the browser's
    login(staff, portfolio["staff"].email)
    browser = {"Accept-Language": language}
    responses += [staff.get("/admin/", headers=browser), staff.get("/admin/user/", headers=browser),
                  staff.get(f"/admin/client/details/?id={portfolio['clients'][-1].id}", headers=browser)]
    responses += _public_pages(walked, store, language)
    with walked.app_context():
        from clientdesk.extensions import db

        db.engine.dispose()  # the walked app's own connections: closed now, not whenever it is collected

    broken = [f"{r.request.method} {r.request.full_path}: {r.status_code}" for r in responses
              if r.status_code >= 500 or (r.status_code in (400, 405))]
    assert not broken, "\n".join(broken)
    seen = [r for r in responses if r.status_code == 200 and r.mimetype == "text/html"]
    assert len(seen) > 60 and all(f'aria-current="true">{language.upper()}</button>' in r.text
                                  for r in seen if "/admin/" in r.request.path)
    if missing.report():
        pytest.fail(f"Not translated ({HOW_TO_FIX}):\n{missing.report()}", pytrace=False)


# The language of each person

def test_a_user_keeps_the_language_they_chose_after_signing_out_and_in(make, as_user, app):
    user = make.user(Role.STAFF, groups=[make.group("Team Gent")])
    http = as_user(user)
    assert "Sign out" in http.get("/admin/").text  # no Accept-Language: English

    response = post(http, "/language", {"language": "nl", "next": "/admin/client/"})
    assert response.status_code == 302 and response.headers["Location"] == "/admin/client/"
    page = http.get("/admin/client/").text
    assert "Afmelden" in page and "Nieuwe klant" in page and 'aria-current="true">NL' in page
    post(http, "/logout")

    elsewhere = app.test_client()  # another browser, asking for French
    login(elsewhere, user.email)
    page = elsewhere.get("/admin/", headers={"Accept-Language": "fr-BE"}).text
    assert "Afmelden" in page and "Se déconnecter" not in page

    with app.app_context():
        from clientdesk.extensions import db

        assert db.session.get(User, user.id).ui_language == "nl"


def test_the_browser_language_is_the_default(client):
    french = client.get("/login", headers={"Accept-Language": "fr-BE,fr;q=0.9,en;q=0.5"}).text
    assert '<html lang="fr">' in french and "Se connecter" in french and "Mot de passe" in french
    dutch = client.get("/login", headers={"Accept-Language": "nl-BE"}).text
    assert '<html lang="nl">' in dutch and "Aanmelden" in dutch and "Wachtwoord" in dutch
    german = client.get("/login", headers={"Accept-Language": "de-BE,de;q=0.9"}).text
    assert '<html lang="de">' in german and "Anmelden" in german and "Passwort" in german
    assert "Sign in" in client.get("/login", headers={"Accept-Language": "es-ES"}).text  # not offered: English


def test_public_pages_have_their_own_language_switch(client, make, store):
    invited = make.client(name="Brouwerij De Kroon BV")

    def invite(s):
        invitation = ClientLifecycle.invite(s.get(Client, invited.id))
        invitation.status = "sent"
        return invitation.token

    token = store.run(invite)
    assert "Choisissez un mot de passe" in client.get(f"/invitation/{token}").text  # the contact's language, French
    response = post(client, "/portal/language", {"language": "nl", "next": f"/invitation/{token}"})
    assert response.status_code == 302 and response.headers["Location"] == f"/invitation/{token}"
    page = client.get(f"/invitation/{token}").text
    assert '<html lang="nl">' in page and "Kies een wachtwoord" in page and 'aria-current="true">NL' in page
    assert "Meld u aan" in client.get("/portal/login").text
    assert "Aanmelden" not in client.get("/login").text  # the staff pages keep their own choice


def test_one_language_switch_serves_both_realms(app, make, as_user, store):
    """/language and /portal/language are one view: each keeps the choice in its own realm and, without a page to
    go back to, returns to that realm's home; both need the CSRF token of their realm."""
    staff = as_user(make.user(Role.STAFF, groups=[make.group("Team Eupen")]))
    assert post(staff, "/language", {"language": "de"}).headers["Location"] == "/admin/"
    assert "Abmelden" in staff.get("/admin/").text
    owner = make.client_user(make.client(name="Bäckerei Schmitz GmbH", status="active"), ui_language="fr")
    portal = app.test_client()
    portal_login(portal, owner.email)
    assert post(portal, "/portal/language", {"language": "de"}).headers["Location"] == "/portal/"
    assert store.get(ClientUser, owner.id).ui_language == "de" and '<html lang="de">' in portal.get("/portal/").text
    for http, url in ((staff, "/language"), (portal, "/portal/language")):
        assert http.post(url, data={"language": "nl"}).status_code == 400  # no CSRF token
        assert post(http, url, {"language": "es"}).status_code == 400


@pytest.mark.parametrize("language, greeting, subject", [
    ("en", "Hello", "Choose a new ClientDesk password"), ("fr", "Bonjour", "Choisissez un nouveau mot de passe ClientDesk"),
    ("nl", "Hallo", "Kies een nieuw ClientDesk-wachtwoord"), ("de", "Guten Tag", "Wählen Sie ein neues ClientDesk-Passwort"),
])
def test_the_password_reset_e_mail_is_in_the_account_s_language(app, make, store, language, greeting, subject):
    from clientdesk.jobs.password_reset import reset_mail

    user = make.user(Role.STAFF, groups=[make.group("Team Eupen")])

    def build(s):
        account = s.get(User, user.id)
        account.ui_language = language
        reset = PasswordReset.issue(account)
        s.flush()
        return reset_mail(reset)

    mail = store.run(build)
    assert mail.text.startswith(greeting) and mail.subject == subject and "/password/reset/" in mail.text


def test_dates_and_numbers_are_written_the_belgian_way_in_each_language(make, as_user, store):
    trial_end = date(2030, 3, 7)
    make.client(name="Atelier Dupont SA", status="active", trial_end=trial_end)
    admin = make.user(Role.ADMIN)
    http = as_user(admin)
    shown = {}
    for language in ("en", "fr", "nl", "de"):
        post(http, "/language", {"language": language})
        shown[language] = http.get("/admin/client/").text
    assert "7 Mar 2030" in shown["en"] and "7 mars 2030" in shown["fr"] and "7 mrt 2030" in shown["nl"]
    assert "07.03.2030" in shown["de"]
    assert "2030-03-07" not in shown["fr"]


def test_a_job_writes_in_the_language_of_the_request_that_launched_it(app, make, as_user, store):
    active = make.client(name="Atelier Dupont SA", status="active")
    supervisor = make.user(Role.SUPERVISOR)
    http = as_user(supervisor)
    post(http, "/language", {"language": "fr"})
    response = post(http, "/admin/client/action/", {"action": "invite", "rowid": [str(active.id)]})
    assert response.status_code == 302
    run_jobs(app)
    task = store.one(Task, kind="bulk_invite")
    [skipped] = task.result["skipped"]
    assert skipped["reason"].startswith("Atelier Dupont SA est actif")


@pytest.mark.parametrize("locale, greeting, expiry", [
    ("fr-BE", "Bonjour", "mars"), ("nl-BE", "Beste", "maart"), ("de-BE", "Guten Tag", "März"), ("en-BE", "Hello", "March"),
])
def test_the_invitation_e_mail_is_in_the_contact_s_language(app, make, store, locale, greeting, expiry):
    from clientdesk.services.invitation_mail import invitation_mail

    client = make.client()

    def build(s):
        contact = s.get(Client, client.id).primary_contact
        contact.language = locale
        invitation = ClientLifecycle.invite(s.get(Client, client.id))
        invitation.expires_at = utcnow().replace(month=3, day=20, hour=12)
        with force_locale("nl_BE"):  # whoever sends it, in whatever language
            return invitation_mail(invitation)

    mail = store.run(build)
    assert mail.text.startswith(greeting) and expiry in mail.text and expiry in mail.html
    assert re.search(r"\b20\b", mail.text)
