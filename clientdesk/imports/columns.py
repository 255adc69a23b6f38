"""The columns of the client import: their headers in French, Dutch and English, and how a file's
headers are recognised (case, accents, spaces, punctuation, a `*` and a hint in brackets ignored, in
any order)."""
import re
from dataclasses import dataclass, field

from flask_babel import gettext as _
from openpyxl.utils import get_column_letter

from ..search import fold

LANGUAGES = ("fr", "nl", "en")


@dataclass(frozen=True)
class Column:
    key: str
    required: bool
    headers: dict[str, str]  # language -> header as the template writes it (without the `*`)
    hints: dict[str, str]  # language -> what to write in the column (the template's instructions sheet)
    aliases: tuple[str, ...] = ()  # other headers people use for it (any language)
    width: int = 16

    def header(self, language: str) -> str:
        return self.headers[language] + ("*" if self.required else "")


def _yes_no_hint(fr: str, nl: str, en: str) -> dict[str, str]:
    return {"fr": f"Oui ou Non. {fr}", "nl": f"Ja of Nee. {nl}", "en": f"Yes or No. {en}"}


COLUMNS = (
    Column(
        "name", True,
        {"fr": "Raison sociale", "nl": "Juridische naam", "en": "Legal name"},
        {"fr": "Le nom que le client voit.", "nl": "De naam die de klant ziet.", "en": "The name the client sees."},
        aliases=("Nom de la société", "Dénomination", "Bedrijfsnaam", "Naam onderneming", "Company name"),
        width=28,
    ),
    Column(
        "country", True,
        {"fr": "Pays (code lettre)", "nl": "Land (lettercode)", "en": "Country (ISO 3166-1 alpha-2)"},
        {"fr": "Code ISO à deux lettres : BE, NL, FR, LU, DE...",
         "nl": "ISO-code van twee letters: BE, NL, FR, LU, DE...",
         "en": "Two-letter ISO code: BE, NL, FR, LU, DE..."},
        aliases=("Code pays", "Landcode", "Country code"),
        width=12,
    ),
    Column(
        "contact_email", True,
        {"fr": "Email de contact", "nl": "E-mail contactpersoon", "en": "Contact email"},
        {"fr": "L'adresse qui reçoit l'invitation ; une seule fois dans tout ClientDesk.",
         "nl": "Het adres dat de uitnodiging ontvangt; maar één keer in heel ClientDesk.",
         "en": "The address that receives the invitation; used only once in all of ClientDesk."},
        aliases=("E-mail", "Adresse e-mail", "Courriel", "E-mailadres", "Contact e-mail address"),
        width=30,
    ),
    Column(
        "contact_first_name", True,
        {"fr": "Prénom du contact", "nl": "Voornaam contactpersoon", "en": "Contact first name"},
        {"fr": "Prénom de la personne de contact.", "nl": "Voornaam van de contactpersoon.",
         "en": "First name of the contact person."},
        aliases=("Prénom", "Voornaam", "First name"),
    ),
    Column(
        "contact_last_name", True,
        {"fr": "Nom de famille du contact", "nl": "Achternaam contactpersoon", "en": "Contact last name"},
        {"fr": "Nom de famille de la personne de contact.", "nl": "Achternaam van de contactpersoon.",
         "en": "Last name of the contact person."},
        aliases=("Nom de famille", "Achternaam", "Familienaam", "Last name", "Surname"),
    ),
    Column(
        "contact_language", True,
        {"fr": "Langue du contact (locale)", "nl": "Taal contactpersoon (locale)", "en": "Contact language (locale)"},
        {"fr": "Code langue et pays : fr-BE, nl-BE, de-BE, en-BE.",
         "nl": "Taal- en landcode: fr-BE, nl-BE, de-BE, en-BE.",
         "en": "Language and country code: fr-BE, nl-BE, de-BE, en-BE."},
        aliases=("Langue", "Taal", "Language", "Locale"),
        width=14,
    ),
    Column(
        "enterprise_number", False,
        {"fr": "Numéro d'entreprise", "nl": "Ondernemingsnummer", "en": "Enterprise number"},
        {"fr": "10 chiffres commençant par 0 ou 1 ; points, espaces et BE acceptés (0403.170.701).",
         "nl": "10 cijfers die met 0 of 1 beginnen; punten, spaties en BE mogen (0403.170.701).",
         "en": "10 digits starting with 0 or 1; dots, spaces and BE are accepted (0403.170.701)."},
        aliases=("Numéro BCE", "Numéro d'entreprise BCE", "KBO-nummer", "Bedrijfsnummer", "Company number",
                 "Business number"),
        width=18,
    ),
    Column(
        "vat_number", False,
        {"fr": "TVA", "nl": "Btw", "en": "VAT"},
        {"fr": "BE suivi du numéro d'entreprise (BE0123456749) ; doit correspondre au numéro d'entreprise.",
         "nl": "BE gevolgd door het ondernemingsnummer (BE0123456749); moet bij het ondernemingsnummer passen.",
         "en": "BE followed by the enterprise number (BE0123456749); must match the enterprise number."},
        aliases=("Numéro de TVA", "N° TVA", "Btw-nummer", "VAT number"),
        width=16,
    ),
    Column(
        "external_reference", False,
        {"fr": "Référence externe", "nl": "Externe referentie", "en": "External reference"},
        {"fr": "La référence du client dans votre logiciel comptable.",
         "nl": "De referentie van de klant in uw boekhoudpakket.",
         "en": "The client's reference in your accounting software."},
        aliases=("Référence", "Referentie", "Reference"),
    ),
    Column(
        "iban", False,
        {"fr": "IBAN", "nl": "IBAN", "en": "IBAN"},
        {"fr": "Compte bancaire ; les espaces sont acceptés.", "nl": "Bankrekening; spaties mogen.",
         "en": "Bank account; spaces are accepted."},
        aliases=("Numéro de compte", "Compte bancaire", "Rekeningnummer", "Bank account"),
        width=24,
    ),
    Column(
        "street", False,
        {"fr": "Rue", "nl": "Straat", "en": "Street"},
        {"fr": "", "nl": "", "en": ""},
        width=24,
    ),
    Column(
        "house_number", False,
        {"fr": "Numéro", "nl": "Huisnummer", "en": "Number"},
        {"fr": "", "nl": "", "en": ""},
        aliases=("Nummer", "House number"),
        width=10,
    ),
    Column(
        "box", False,
        {"fr": "Boîte postale", "nl": "Bus", "en": "P.O. Box"},
        {"fr": "", "nl": "", "en": ""},
        aliases=("Boîte", "Busnummer", "Postbus", "Box"),
        width=10,
    ),
    Column(
        "postal_code", False,
        {"fr": "Code postal", "nl": "Postcode", "en": "Postal code"},
        {"fr": "", "nl": "", "en": ""},
        aliases=("Zip code",),
        width=12,
    ),
    Column(
        "city", False,
        {"fr": "Commune/ville", "nl": "Gemeente/stad", "en": "Municipality/city"},
        {"fr": "", "nl": "", "en": ""},
        aliases=("Ville", "Commune", "Localité", "Gemeente", "Stad", "City", "Municipality", "Town"),
        width=18,
    ),
    Column(
        "mandate", False,
        {"fr": "Mandat (Oui/Non)", "nl": "Mandaat (Ja/Nee)", "en": "Mandate (Yes/No)"},
        _yes_no_hint("Vous disposez d'un mandat signé pour inscrire le client sur Peppol.",
                     "U hebt een ondertekend mandaat om de klant op Peppol in te schrijven.",
                     "You hold a signed mandate to register the client on Peppol."),
        aliases=("Mandat de facturation électronique", "E-invoicing mandate"),
        width=12,
    ),
    Column(
        "template", False,
        {"fr": "Modèle", "nl": "Sjabloon", "en": "Template"},
        {"fr": "Le nom d'un modèle de configuration existant ; les autres colonnes de la ligne priment sur le modèle.",
         "nl": "De naam van een bestaand configuratiesjabloon; de andere kolommen van de rij gaan voor op het sjabloon.",
         "en": "The name of an existing configuration template; the row's other columns override the template."},
        aliases=("Modèle de configuration", "Configuratiesjabloon", "Configuration template"),
        width=20,
    ),
    Column(
        "invitation", False,
        {"fr": "Invitation (Oui/Non)", "nl": "Uitnodiging (Ja/Nee)", "en": "Invitation (Yes/No)"},
        _yes_no_hint("Oui : le contact est invité juste après l'import.",
                     "Ja: de contactpersoon wordt meteen na de import uitgenodigd.",
                     "Yes: the contact is invited right after the import."),
        aliases=("Inviter", "Uitnodigen", "Invite"),
        width=14,
    ),
    Column(
        "group", False,
        {"fr": "Groupe", "nl": "Groep", "en": "Group"},
        {"fr": "L'équipe qui suit le client (un groupe existant) ; vide : le groupe choisi à l'import.",
         "nl": "Het team dat de klant opvolgt (een bestaande groep); leeg: de groep gekozen bij de import.",
         "en": "The team that follows the client (an existing group); empty: the group chosen for the import."},
        aliases=("Équipe", "Team"),
        width=18,
    ),
    Column(
        "plan", False,
        {"fr": "Formule", "nl": "Formule", "en": "Plan"},
        {"fr": "Le nom d'une formule proposée du catalogue ; vide : la première formule proposée, à l'acceptation.",
         "nl": "De naam van een aangeboden formule uit de catalogus; leeg: de eerste aangeboden formule, bij de aanvaarding.",
         "en": "The name of a plan offered in the catalogue; empty: the first plan offered, when the client accepts."},
        aliases=("Abonnement", "Plan tarifaire", "Tariefplan", "Subscription plan"),
        width=16,
    ),
    Column(
        "address_line2", False,
        {"fr": "Adresse 2", "nl": "Adresregel 2", "en": "Address line 2"},
        {"fr": "Complément d'adresse : bâtiment, étage...", "nl": "Aanvulling op het adres: gebouw, verdieping...",
         "en": "More of the address: building, floor..."},
        aliases=("Complément d'adresse", "Adres 2"),
        width=18,
    ),
    Column(
        "company_type", False,
        {"fr": "Type de société", "nl": "Type onderneming", "en": "Company type"},
        {"fr": "Entreprise, Indépendant (personne physique), Association sans but lucratif, Organisme public ou Autre.",
         "nl": "Onderneming, Zelfstandige (natuurlijk persoon), Vereniging zonder winstoogmerk, Openbare instelling of "
               "Andere.",
         "en": "Company, Sole trader (self-employed), Non-profit organisation, Public body or Other."},
        aliases=("Type", "Ondernemingstype"),
        width=18,
    ),
    Column(
        "parent", False,
        {"fr": "Société mère", "nl": "Moedervennootschap", "en": "Parent company"},
        {"fr": "Le numéro d'entreprise d'un client existant (0403.170.701).",
         "nl": "Het ondernemingsnummer van een bestaande klant (0403.170.701).",
         "en": "The enterprise number of an existing client (0403.170.701)."},
        aliases=("Maison mère", "Moederbedrijf", "Parent", "Parent enterprise number"),
        width=18,
    ),
    Column(
        "billing_same_as_address", False,
        {"fr": "Facturation à la même adresse (Oui/Non)", "nl": "Facturatie op hetzelfde adres (Ja/Nee)",
         "en": "Billing at the same address (Yes/No)"},
        _yes_no_hint("Non : remplissez les colonnes de l'adresse de facturation. Vide : Non si elles sont remplies.",
                     "Nee: vul de kolommen van het facturatieadres in. Leeg: Nee als ze ingevuld zijn.",
                     "No: fill in the billing address columns. Empty: No when they are filled in."),
        aliases=("Billing same as address",),
        width=14,
    ),
    Column(
        "billing_street", False,
        {"fr": "Rue de facturation", "nl": "Straat facturatieadres", "en": "Billing street"},
        {"fr": "", "nl": "", "en": ""},
        width=24,
    ),
    Column(
        "billing_house_number", False,
        {"fr": "Numéro de facturation", "nl": "Huisnummer facturatieadres", "en": "Billing house number"},
        {"fr": "", "nl": "", "en": ""},
        width=10,
    ),
    Column(
        "billing_box", False,
        {"fr": "Boîte de facturation", "nl": "Bus facturatieadres", "en": "Billing box"},
        {"fr": "", "nl": "", "en": ""},
        width=10,
    ),
    Column(
        "billing_address_line2", False,
        {"fr": "Adresse de facturation 2", "nl": "Adresregel 2 facturatieadres", "en": "Billing address line 2"},
        {"fr": "", "nl": "", "en": ""},
        width=18,
    ),
    Column(
        "billing_postal_code", False,
        {"fr": "Code postal de facturation", "nl": "Postcode facturatieadres", "en": "Billing postal code"},
        {"fr": "", "nl": "", "en": ""},
        width=12,
    ),
    Column(
        "billing_city", False,
        {"fr": "Ville de facturation", "nl": "Gemeente facturatieadres", "en": "Billing city"},
        {"fr": "", "nl": "", "en": ""},
        width=18,
    ),
    Column(
        "billing_country", False,
        {"fr": "Pays de facturation", "nl": "Land facturatieadres", "en": "Billing country"},
        {"fr": "Code ISO à deux lettres ; vide : le pays du client.", "nl": "ISO-code van twee letters; leeg: het land "
         "van de klant.", "en": "Two-letter ISO code; empty: the client's country."},
        width=12,
    ),
    Column(
        "contact_switchboard_phone", False,
        {"fr": "Téléphone standard du contact", "nl": "Telefooncentrale contactpersoon", "en": "Contact switchboard phone"},
        {"fr": "+32 2 512 34 56 ou 02 512 34 56.", "nl": "+32 2 512 34 56 of 02 512 34 56.",
         "en": "+32 2 512 34 56 or 02 512 34 56."},
        aliases=("Téléphone standard", "Standard", "Switchboard"),
        width=18,
    ),
    Column(
        "contact_source", False,
        {"fr": "Source du contact", "nl": "Bron contactpersoon", "en": "Contact source"},
        {"fr": "D'où provient le contact : Site web, Recommandation, Événement, Import ou Autre.",
         "nl": "Waar de contactpersoon vandaan komt: Website, Doorverwijzing, Evenement, Import of Andere.",
         "en": "Where the contact came from: Website, Referral, Event, Import or Other."},
        aliases=("Source", "Bron"),
        width=16,
    ),
)

BY_KEY = {c.key: c for c in COLUMNS}
YES_NO = {"fr": ("Oui", "Non"), "nl": ("Ja", "Nee"), "en": ("Yes", "No")}
_EXAMPLE_COMMON = {
    "country": "BE", "enterprise_number": "0123.456.749", "vat_number": "BE0123456749", "external_reference": "CLI-0042",
    "iban": "BE71 0961 2345 6769", "house_number": "16", "postal_code": "1000",
}
# The template's example row; a file that still holds it is refused (see validate.py).
EXAMPLE_ROWS = {
    "fr": {**_EXAMPLE_COMMON, "name": "Exemple SRL", "contact_email": "jean.dupont@example.com", "contact_first_name": "Jean",
           "contact_last_name": "Dupont", "contact_language": "fr-BE", "street": "Rue de la Loi", "city": "Bruxelles",
           "mandate": "Non", "invitation": "Non"},
    "nl": {**_EXAMPLE_COMMON, "name": "Voorbeeld BV", "contact_email": "jan.peeters@example.com", "contact_first_name": "Jan",
           "contact_last_name": "Peeters", "contact_language": "nl-BE", "street": "Wetstraat", "city": "Brussel",
           "mandate": "Nee", "invitation": "Nee"},
    "en": {**_EXAMPLE_COMMON, "name": "Example Ltd", "contact_email": "jane.smith@example.com", "contact_first_name": "Jane",
           "contact_last_name": "Smith", "contact_language": "en-BE", "street": "Rue de la Loi", "city": "Brussels",
           "mandate": "No", "invitation": "No"},
}
EXAMPLE_EMAILS = frozenset(row["contact_email"] for row in EXAMPLE_ROWS.values())
REQUIRED = tuple(c.key for c in COLUMNS if c.required)


def normalise(header) -> str:
    """`Pays (code lettre)*` → `pays`; `Numéro d’entreprise` → `numerodentreprise`."""
    text = re.sub(r"\(.*?\)", "", fold(str(header)))
    return re.sub(r"[^a-z0-9]", "", text)


def _aliases() -> dict[str, str]:
    table: dict[str, str] = {}
    for column in COLUMNS:
        for name in (*column.headers.values(), *column.aliases):
            other = table.setdefault(normalise(name), column.key)
            if other != column.key:
                raise AssertionError(f"header {name!r} would mean both {other} and {column.key}")
    return table


ALIASES = _aliases()


@dataclass
class HeaderMatch:
    positions: dict[str, int] = field(default_factory=dict)  # column key -> index in the row
    language: str = "fr"  # the language most headers are written in (names missing columns)
    errors: list[tuple[int | None, str, str]] = field(default_factory=list)  # (index, header, message)


def letter(index: int) -> str:
    return get_column_letter(index + 1)


def match_headers(cells) -> HeaderMatch:
    """Which column holds what; unknown, duplicated and missing required columns as errors, by name."""
    match = HeaderMatch()
    votes = dict.fromkeys(LANGUAGES, 0)
    for index, cell in enumerate(cells):
        label = " ".join(str(cell).split()) if cell not in (None, "") else ""
        if not label:
            continue
        key = ALIASES.get(normalise(label))
        if key is None:
            match.errors.append((index, label, _("Unknown column “%(header)s”: use the template's column names, or delete the column.",
                                                 header=label)))
        elif key in match.positions:
            first = match.positions[key]
            match.errors.append((index, label, _("Column “%(header)s” appears twice (also in column %(letter)s): keep one.",
                                                 header=label, letter=letter(first))))
        else:
            match.positions[key] = index
            for language in LANGUAGES:
                votes[language] += normalise(label) == normalise(BY_KEY[key].headers[language])
    match.language = max(LANGUAGES, key=lambda language: votes[language])
    for key in REQUIRED:
        if key not in match.positions:
            name = BY_KEY[key].header(match.language)
            match.errors.append((None, name, _("Required column “%(header)s” is missing.", header=name)))
    return match
