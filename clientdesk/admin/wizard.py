"""The "+ New client" wizard at /admin/client/new-wizard/: 1 the company (searched in the register as
you type, picked, or entered by hand), 2 the details (contact, language, group, firm contact person,
template, subscription, mandate), 3 a summary, then the client is created.

What was typed is kept in a draft on the server (WizardDraft), so Back and Next keep it; each step is checked on
the server (shared validators, onboarding.py), and everything is checked again before anything is created.
"""
import json
import re
import secrets
from datetime import timedelta

from flask import current_app, flash, jsonify, redirect, request, session, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from redis.exceptions import RedisError
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import MultiDict
from wtforms import SelectChoice

from .. import i18n, onboarding, scoping
from ..broker import get_redis
from ..einvoicing import launch_registration
from ..errors import Refused
from ..extensions import db
from ..forms import validators as v
from ..forms.wizard import CompanyForm, DetailsForm
from ..models import Client, CompanyType, ConfigTemplate, Group, PeppolState, SubscriptionMode, User
from ..services.register import company_register
from ..tasks import QueueUnavailable
from .base import ProtectedView

SESSION_KEY = "new_client_wizard"  # the draft's id
DRAFT_TTL = timedelta(hours=12)
SEARCH_LIMIT = 10
COMPANY_FIELDS = ("name", "country", "enterprise_number", "vat_number", "legal_form", "company_type", "street", "house_number",
                  "box", "address_line2", "postal_code", "city", "website")
LOCALES = {"fr": "fr-BE", "nl": "nl-BE", "de": "de-BE", "en": "en-BE"}
NUMBER = re.compile(r"(?i)\s*(be)?[\d\s.]{9,}")


class WizardDraft:
    """What was typed in the wizard's steps, in Redis: in the session cookie, one long field made the cookie too
    big for the browser, which then dropped it and signed the person out. The cookie holds the draft's id; the
    draft's key names its user too, so someone else's id finds nothing. Redis deletes a draft DRAFT_TTL after its
    last change; finishing or restarting the wizard deletes it at once. Only the forms' own fields are kept."""

    def __init__(self, user_id: int):
        self.user_id = user_id

    def _key(self, create: bool = False) -> str | None:
        draft_id = session.get(SESSION_KEY)
        if not isinstance(draft_id, str):
            if not create:
                return None
            draft_id = session[SESSION_KEY] = secrets.token_urlsafe(16)
        return f"wizard-draft:{self.user_id}:{draft_id}"

    def get(self, part: str) -> dict:
        key = self._key()
        stored = get_redis().hget(key, part) if key else None
        return json.loads(stored) if stored else {}

    def keep(self, part: str, data, form_class) -> None:
        fields = {field.name for field in form_class()}
        key = self._key(create=True)
        with get_redis().pipeline() as pipe:
            pipe.hset(key, part, json.dumps({name: value for name, value in dict(data).items() if name in fields}))
            pipe.expire(key, DRAFT_TTL)
            pipe.execute()

    def discard(self) -> None:
        key = self._key()
        if key:
            get_redis().delete(key)
        session.pop(SESSION_KEY, None)


class NewClientWizard(ProtectedView):
    def is_visible(self) -> bool:
        return False  # reached through "+ New client" on the client list

    def create_blueprint(self, admin):
        blueprint = super().create_blueprint(admin)
        blueprint.register_error_handler(RedisError, self._draft_unreachable)
        return blueprint

    def _draft_unreachable(self, error):
        flash(_("The wizard keeps what you type on the server, which cannot be reached right now: nothing was created. "
                "Try again in a minute."), "error")
        return redirect(url_for("client.index_view"))

    # Step 1: the company
    @expose("/", methods=("GET", "POST"))
    def index(self):
        register = company_register()
        form = self._company_form(request.form if request.method == "POST" else self._raw("company"))
        duplicate = None
        if request.method == "POST":
            self._draft().keep("company", request.form, CompanyForm)
            values = form.values()
            if values is not None:
                duplicate = self._duplicate(values["enterprise_number"])
                problems = onboarding.company_problems(values, register)
                for name, message in problems.items():
                    getattr(form, name).errors = [*getattr(form, name).errors, message]
                if not duplicate and not problems:
                    return redirect(self.get_url(".details"))
        query = request.args.get("q", "").strip()
        return self.render(
            "admin/wizard/company.html", form=form, step=1, duplicate=duplicate, register=register.info(), query=query,
            results=self._results(query) if query else None,
        )

    @expose("/pick/", methods=("POST",))
    def pick(self):
        """Fill step 1 from the register (the values come from the register, not from the browser)."""
        number = request.form.get("enterprise_number", "")
        company = company_register().get(number, language=self._language()) if number.isdigit() else None
        if company is None:
            flash(_("That company is not in the company register."), "error")
            return redirect(self.get_url(".index"))
        duplicate = self._duplicate(company.enterprise_number)
        if duplicate:
            flash(duplicate, "error")
            return redirect(self.get_url(".index"))
        self._draft().keep("company", {
            "name": company.name, "country": "BE", "enterprise_number": company.display_number,
            "vat_number": company.vat_number, "legal_form": company.legal_form or "",
            "company_type": company.company_type or "", "street": company.street or "",
            "house_number": company.house_number or "", "box": company.box or "", "postal_code": company.postal_code or "",
            "city": company.city or "", "website": company.website or "",
        }, CompanyForm)
        if company.language in LOCALES and not self._raw("details"):
            self._draft().keep("details", {**self._initial_details(), "language": LOCALES[company.language]}, DetailsForm)
        flash(_("Filled in from the company register: %(name)s. Check the details, then continue.", name=company.name), "success")
        return redirect(self.get_url(".index"))

    @expose("/search/")
    def search(self):
        """JSON for the search-as-you-type box."""
        query = request.args.get("q", "").strip()
        return jsonify(query=query, **self._results(query))

    # Step 2: the details
    @expose("/details/", methods=("GET", "POST"))
    def details(self):
        company = self._company()
        if company is None:
            flash(_("Start with the company."), "warning")
            return redirect(self.get_url(".index"))
        raw = request.form if request.method == "POST" else self._raw("details") or self._initial_details()
        form = self._details_form(raw)
        if request.method == "POST":
            self._draft().keep("details", request.form, DetailsForm)
            if request.form.get("action") == "back":
                return redirect(self.get_url(".index"))
            template = form.template.data or ""
            if template and template != (form.prefilled_template.data or ""):
                # Another template was chosen and the page did not fill its defaults in (no JavaScript): do it now.
                raw = self._with_template_defaults(request.form, template)
                self._draft().keep("details", raw, DetailsForm)
                form = self._details_form(raw)
                flash(_("The template's defaults are filled in: check them and continue."), "info")
            elif self._details(form, company) is not None:
                return redirect(self.get_url(".summary"))
        return self.render("admin/wizard/details.html", form=form, step=2, template_defaults=self._template_defaults_json())

    # Step 3: summary, then create
    @expose("/summary/", methods=("GET", "POST"))
    def summary(self):
        company = self._company()
        if company is None:
            flash(_("Start with the company."), "warning")
            return redirect(self.get_url(".index"))
        details = self._details(self._details_form(self._raw("details")), company)
        if details is None:
            flash(_("Some details are missing or wrong."), "warning")
            return redirect(self.get_url(".details"))
        if request.method == "POST":
            return self._create(company, details)
        template = db.session.get(ConfigTemplate, details["template_id"]) if details["template_id"] else None
        return self.render(
            "admin/wizard/summary.html", step=3, company=company, details=details, config_template=template,
            group=db.session.get(Group, details["group_id"]),
            firm_contact=db.session.get(User, details["firm_contact_id"]) if details["firm_contact_id"] else None,
            subscription=SubscriptionMode(details["subscription_mode"]).label,
            company_type_label=CompanyType(company["company_type"]).label if company.get("company_type") else None,
            language=i18n.language_name(details["language"]), number=v.format_enterprise_number(company["enterprise_number"]),
            iban=v.format_iban(details["iban"]),
        )

    def _create(self, company: dict, details: dict):
        client_id = None
        try:
            client = onboarding.create_client(company, details, current_app.config)
            client_id, name = client.id, client.name
            if client.peppol_state == PeppolState.PENDING:  # the template turned Peppol on: commits with it
                launch_registration(_("Peppol registration of %(name)s", name=name), [client_id], current_user, client=client)
            else:
                db.session.commit()
        except IntegrityError:  # created by someone else meanwhile (same number or e-mail)
            db.session.rollback()
            flash(_("This client or contact was created by someone else meanwhile: check the client list."), "error")
            return redirect(self.get_url(".index"))
        except (Refused, QueueUnavailable) as error:
            db.session.rollback()
            flash(str(error), "error")
            if client_id is None or db.session.get(Client, client_id) is None:  # nothing was created
                return redirect(self.get_url(".details"))
            # Created, but the registration's job could not be queued: its task, marked failed, can be run again.
        self._draft().discard()
        flash(_("Client %(name)s created.", name=name), "success")
        return redirect(url_for("client.details_view", id=client_id))

    @expose("/restart/", methods=("POST",))
    def restart(self):
        self._draft().discard()
        return redirect(self.get_url(".index"))

    # Steps' data: raw (what was typed, kept in the draft) and checked (normalised values or None)
    def _draft(self) -> WizardDraft:
        return WizardDraft(current_user.id)

    def _raw(self, part: str) -> dict:
        return self._draft().get(part)

    def _company_form(self, raw) -> CompanyForm:
        return CompanyForm(MultiDict(raw)) if raw else CompanyForm()

    def _company(self) -> dict | None:
        raw = self._raw("company")
        if not raw:
            return None
        values = self._company_form(raw).values()
        if values is None or self._duplicate(values["enterprise_number"]) or onboarding.company_problems(values, company_register()):
            return None
        return values

    def _details_form(self, raw) -> DetailsForm:
        form = DetailsForm(MultiDict(raw)) if raw else DetailsForm()
        form.template.choices = [SelectChoice("", _("— No template —"))] + [
            SelectChoice(str(t.id), t.name) for t in db.session.scalars(db.select(ConfigTemplate).order_by(ConfigTemplate.name))
        ]
        form.group.choices = [SelectChoice(str(g.id), g.name) for g in db.session.scalars(scoping.assignable_groups(current_user))]
        form.firm_contact.choices = [SelectChoice("", "—")] + [
            SelectChoice(str(u.id), str(u)) for u in db.session.scalars(scoping.staff_users())
        ]
        return form

    def _details(self, form: DetailsForm, company: dict) -> dict | None:
        values = form.values()
        if values is None:
            return None
        problems = onboarding.details_problems(company, values, current_user, current_app.config)
        for name, message in problems.items():
            getattr(form, name).errors = [*getattr(form, name).errors, message]
        return None if problems else values

    def _initial_details(self) -> dict:
        raw = {"firm_contact": str(current_user.id), "subscription_mode": SubscriptionMode.FULL.value}
        groups = [g.id for g in db.session.scalars(scoping.assignable_groups(current_user))]
        if len(groups) == 1:
            raw["group"] = str(groups[0])
        return raw

    def _with_template_defaults(self, data, template_id: str) -> dict:
        raw = {key: value for key, value in data.items() if key not in ("csrf_token", "action")}
        template = db.session.get(ConfigTemplate, int(template_id)) if template_id.isdigit() else None
        if template is not None:
            raw.update(onboarding.template_defaults(template, current_user))
            if not raw.get("e_invoicing_mandate"):
                raw.pop("e_invoicing_mandate", None)
        raw["prefilled_template"] = template_id
        return raw

    def _template_defaults_json(self) -> dict:
        return {str(t.id): onboarding.template_defaults(t, current_user)
                for t in db.session.scalars(db.select(ConfigTemplate))}

    # Register search and "already a client"
    def _results(self, query: str) -> dict:
        register = company_register()
        info = register.info()
        if not info.loaded:
            return {"results": [], "message": _("The company register is not loaded: enter the company by hand.")}
        if len(query) < 2:
            return {"results": [], "message": _("Type at least two letters or digits.")}
        companies = register.search(query, limit=SEARCH_LIMIT, language=self._language())
        numbers = [c.enterprise_number for c in companies]
        clients = {c.enterprise_number: c for c in db.session.scalars(
            db.select(Client).where(Client.enterprise_number.in_(numbers)))} if numbers else {}
        visible = scoping.visible_client_ids((c.id for c in clients.values()), current_user) if clients else set()
        results = []
        for company in companies:
            item = company.as_dict()
            client = clients.get(company.enterprise_number)
            if client is not None:
                shown = client.id in visible
                item["client"] = {"name": client.name if shown else None,
                                  "url": url_for("client.details_view", id=client.id) if shown else None}
            results.append(item)
        message = None
        if not results:
            message = _("No company found: check the spelling or the number, or enter the company by hand.")
            if NUMBER.fullmatch(query):
                try:
                    v.enterprise_number(query)
                except v.InvalidValue as error:
                    message = str(error)
        return {"results": results, "message": message, "register": info.label}

    def _duplicate(self, enterprise_number) -> Markup | None:
        client = onboarding.existing_client(enterprise_number)
        if client is None:
            return None
        if client.id in scoping.visible_client_ids([client.id], current_user):
            return Markup(_("Already a client: %(link)s.", link=Markup('<a href="{}">{}</a>').format(
                url_for("client.details_view", id=client.id), client.name)))
        return Markup(_("Already a client, one you do not have access to: ask a supervisor or an admin."))

    def _language(self) -> str:
        return i18n.current_language()

