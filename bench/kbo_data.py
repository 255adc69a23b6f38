"""Synthetic KBO/BCE open-data extracts in the real file layout (for the benchmark and the shipped sample).

Files and quoting follow a real Full extract: every value in double quotes except dates and empty
values, `,` separator, UTF-8, enterprise numbers dotted (`0403.170.701`), establishment numbers
`2.xxx.xxx.xxx`. The mix of rows is close to the 2025 extracts: about 1.7 names, 1.4 address rows
(0.6 seat addresses of enterprises, the rest establishment addresses) and 0.35 contacts per
enterprise; natural persons (about 40 %) have no seat address and no legal form.
"""
import random
from pathlib import Path

FIRST = ("Jan", "Marie", "Pieter", "Sofie", "Luc", "Emma", "Tom", "Julie", "Koen", "Claire", "Wim", "Élodie",
         "Jean", "Nathalie", "Bart", "Chloé", "Jürgen", "Anaïs", "Noël", "Zoë", "Hélène", "Björn", "Inès", "Joël")
LAST = ("Peeters", "Janssens", "Maes", "Jacobs", "Mertens", "Willems", "Claes", "Goossens", "Wouters", "De Smet",
        "Dubois", "Lambert", "Dupont", "Martin", "Leroy", "Lefèvre", "Van Damme", "Hermans", "Desmet", "Renard",
        "Müller", "Frère", "Geeraerts", "Thiéry", "Dumoulin", "Verhaegen", "Lemaître", "Vandenbroucke", "Lecocq",
        "D'Hondt", "Schröder", "Bélanger", "Dierickx", "Vermeulen", "Noël", "Gérard", "Hendrickx", "Bastogne")
ACTIVITY = ("Bakkerij", "Brasserie", "Atelier", "Garage", "Immo", "Cabinet", "Boulangerie", "Transport", "Studio",
            "Dakwerken", "Pharmacie", "Brouwerij", "Boucherie", "Slagerij", "Café", "Restaurant", "Consult", "Bureau",
            "Schrijnwerkerij", "Menuiserie", "Électricité", "Elektro", "Bouw", "Construction", "Coiffure", "Kapsalon",
            "Apotheek", "Fleuriste", "Bloemen", "Informatique", "Software", "Logistics", "Trading", "Medical",
            "Dentiste", "Tandarts", "Architecte", "Architect", "Comptabilité", "Boekhouding", "Verzekeringen",
            "Assurances", "Crèche", "Kinderopvang", "Fitness", "Wellness", "Taverne", "Friterie", "Frituur")
SUFFIX_NL = ("BV", "NV", "VZW", "CommV", "CV", "BVBA", "VOF")
SUFFIX_FR = ("SRL", "SA", "ASBL", "SComm", "SC", "SPRL", "SNC")
WORDS = ("Nova", "Alpha", "Horizon", "Mosane", "Vlaanderen", "Wallonie", "Brabant", "Ardennes", "Kempen", "Schelde",
         "Meuse", "Zenne", "Sud", "Noord", "Europe", "Benelux", "Global", "Partners", "Services", "Solutions",
         "Group", "Invest", "Holding", "Management", "Development", "Énergie", "Énergies", "Élan", "Étoile", "Océan",
         "Forêt", "Château", "Fraîche", "Crêpes", "Saveurs", "Délices", "Gîte", "Hôtel", "Brûlerie", "Pâtisserie")
CITIES = (
    ("1000", "Brussel", "Bruxelles", "bi"), ("1050", "Elsene", "Ixelles", "bi"), ("1030", "Schaarbeek", "Schaerbeek", "bi"),
    ("2000", "Antwerpen", "Anvers", "nl"), ("9000", "Gent", "Gand", "nl"), ("3000", "Leuven", "Louvain", "nl"),
    ("8000", "Brugge", "Bruges", "nl"), ("2800", "Mechelen", "Malines", "nl"), ("3500", "Hasselt", "Hasselt", "nl"),
    ("4000", "Luik", "Liège", "fr"), ("5000", "Namen", "Namur", "fr"), ("6000", "Charleroi", "Charleroi", "fr"),
    ("7000", "Bergen", "Mons", "fr"), ("1300", "Waver", "Wavre", "fr"), ("6700", "Aarlen", "Arlon", "fr"),
    ("4700", "Eupen", "Eupen", "de"), ("4780", "Sankt Vith", "Saint-Vith", "de"),
)
STREETS = (("Kerkstraat", "Rue de l'Église"), ("Stationsstraat", "Rue de la Station"), ("Hoogstraat", "Rue Haute"),
           ("Molenstraat", "Rue du Moulin"), ("Nieuwstraat", "Rue Neuve"), ("Louizalaan", "Avenue Louise"),
           ("Eikstraat", "Rue du Chêne"), ("Kasteelstraat", "Rue du Château"), ("Grote Markt", "Grand-Place"),
           ("Brugsesteenweg", "Chaussée de Bruges"), ("Dorpstraat", "Rue du Village"), ("Veldstraat", "Rue des Champs"))
LEGAL_FORMS = ("014", "015", "017", "610", "610", "610", "706")

ENTERPRISE_HEADER = '"EnterpriseNumber","Status","JuridicalSituation","TypeOfEnterprise","JuridicalForm","JuridicalFormCAC","StartDate"\n'
DENOMINATION_HEADER = '"EntityNumber","Language","TypeOfDenomination","Denomination"\n'
ADDRESS_HEADER = ('"EntityNumber","TypeOfAddress","CountryNL","CountryFR","Zipcode","MunicipalityNL","MunicipalityFR",'
                  '"StreetNL","StreetFR","HouseNumber","Box","ExtraAddressInfo","DateStrikingOff"\n')
CONTACT_HEADER = '"EntityNumber","EntityContact","ContactType","Value"\n'


def check_digits(base: int) -> str:
    return f"{97 - base % 97:02d}"


def dotted(number: str) -> str:
    return f"{number[:4]}.{number[4:7]}.{number[7:]}"


def establishment_number(serial: int) -> str:
    base = 20_000_000 + serial
    digits = f"{base:08d}{check_digits(base)}"
    return f"{digits[0]}.{digits[1:4]}.{digits[4:7]}.{digits[7:]}"


def enterprise_numbers(count: int, rng: random.Random, one_series: float = 0.03):
    """`count` valid enterprise numbers in ascending order: 0-series from 0200.000.000, then some 1-series."""
    ones = int(count * one_series)
    zeros = count - ones
    gap = (9_999_999 - 2_000_000) // max(zeros, 1)
    base = 2_000_000
    for _ in range(zeros):
        base += rng.randint(1, max(1, 2 * gap - 1))
        yield f"{base:08d}{check_digits(base)}"
    base = 10_000_000
    for _ in range(ones):
        base += rng.randint(1, 60)
        yield f"{base:08d}{check_digits(base)}"


def company_name(rng: random.Random, language: str) -> str:
    suffix = rng.choice(SUFFIX_NL if language == "nl" else SUFFIX_FR)
    shape = rng.random()
    if shape < 0.35:
        return f"{rng.choice(ACTIVITY)} {rng.choice(LAST)} {suffix}"
    if shape < 0.6:
        return f"{rng.choice(WORDS)} {rng.choice(WORDS)} {suffix}"
    if shape < 0.8:
        return f"{rng.choice(LAST)} & {rng.choice(LAST)} {suffix}"
    if shape < 0.9:
        return f"{rng.choice(ACTIVITY)} {rng.choice(WORDS)}"
    return f"{rng.choice(LAST)} {rng.choice(ACTIVITY)} {rng.choice(WORDS)} {suffix}"


def _q(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def generate(folder: Path, count: int, seed: int = 2026, extra=()) -> dict:
    """Write meta/code/enterprise/denomination/address/contact .csv for `count` synthetic enterprises.

    `extra`: real-looking rows to merge in, as dicts with number (10 digits), name, language ("1" FR,
    "2" NL), form, street, house, zipcode, city, abbreviation, email, phone, web (all optional but
    number and name); they replace the synthetic enterprise that would come next in number order.
    """
    rng = random.Random(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    extra = sorted(extra, key=lambda e: e["number"])
    counts = {"enterprise": 0, "denomination": 0, "address": 0, "contact": 0}
    files = {name: open(folder / f"{name}.csv", "w", encoding="utf-8", newline="") for name in counts}
    files["enterprise"].write(ENTERPRISE_HEADER)
    files["denomination"].write(DENOMINATION_HEADER)
    files["address"].write(ADDRESS_HEADER)
    files["contact"].write(CONTACT_HEADER)
    establishment = 0
    pending = list(extra)
    merged = _merge(enterprise_numbers(count - len(extra), rng), pending)
    ent, den, adr, con = (files[n].write for n in ("enterprise", "denomination", "address", "contact"))
    for number, real in merged:
        dot = dotted(number)
        start = f"{rng.randint(1, 28):02d}-{rng.randint(1, 12):02d}-{rng.randint(1960, 2025)}"
        if real is not None:
            _write_real(real, dot, start, ent, den, adr, con, counts)
            continue
        natural = rng.random() < 0.4
        zipcode, city_nl, city_fr, region = rng.choice(CITIES)
        language = {"nl": "2", "fr": "1", "de": "3"}.get(region) or rng.choice("12")
        if natural:
            ent(f'"{dot}","AC","000","1",,,{start}\n')
            den(f'"{dot}","0","001",{_q(rng.choice(LAST) + ", " + rng.choice(FIRST))}\n')
            counts["denomination"] += 1
            if rng.random() < 0.35:
                den(f'"{dot}","{language}","003",{_q(rng.choice(ACTIVITY) + " " + rng.choice(LAST))}\n')
                counts["denomination"] += 1
        else:
            form = rng.choice(LEGAL_FORMS)
            ent(f'"{dot}","AC","000","2","{form}",,{start}\n')
            name = company_name(rng, "nl" if language == "2" else "fr")
            den(f'"{dot}","{language}","001",{_q(name)}\n')
            counts["denomination"] += 1
            if region == "bi" and rng.random() < 0.5:
                other = "1" if language == "2" else "2"
                den(f'"{dot}","{other}","001",{_q(company_name(rng, "nl" if other == "2" else "fr"))}\n')
                counts["denomination"] += 1
            if rng.random() < 0.3:
                abbreviation = "".join(w[0] for w in name.split()[:3]).upper()
                den(f'"{dot}","{language}","002",{_q(".".join(abbreviation) + ".")}\n')
                counts["denomination"] += 1
            if rng.random() < 0.4:
                den(f'"{dot}","{language}","003",{_q(rng.choice(ACTIVITY) + " " + rng.choice(WORDS))}\n')
                counts["denomination"] += 1
            street_nl, street_fr = rng.choice(STREETS)
            box = f'"{rng.randint(1, 20)}"' if rng.random() < 0.2 else '""'
            struck = f"{rng.randint(1, 28):02d}-{rng.randint(1, 12):02d}-2019" if rng.random() < 0.02 else ""
            adr(f'"{dot}","REGO",,,"{zipcode}",{_q(city_nl)},{_q(city_fr)},{_q(street_nl)},{_q(street_fr)},'
                f'"{rng.randint(1, 300)}",{box},"",{struck}\n')
            counts["address"] += 1
            if rng.random() < 0.45:
                con(f'"{dot}","ENT","{rng.choice(("TEL", "EMAIL", "WEB"))}","info@example{number[-4:]}.be"\n')
                counts["contact"] += 1
        for _ in range(rng.choice((0, 1, 1, 1, 2))):
            establishment += 1
            zipcode, city_nl, city_fr, _region = rng.choice(CITIES)
            street_nl, street_fr = rng.choice(STREETS)
            adr(f'"{establishment_number(establishment)}","BAET",,,"{zipcode}",{_q(city_nl)},{_q(city_fr)},'
                f'{_q(street_nl)},{_q(street_fr)},"{rng.randint(1, 300)}","","",\n')
            counts["address"] += 1
            if rng.random() < 0.1:
                phone = f"02 {rng.randint(100, 999)} {rng.randint(10, 99)} {rng.randint(10, 99)}"
                con(f'"{establishment_number(establishment)}","EST","TEL","{phone}"\n')
                counts["contact"] += 1
        counts["enterprise"] += 1
    for handle in files.values():
        handle.close()
    (folder / "meta.csv").write_text(
        '"Variable","Value"\n"SnapshotDate","07-11-2026"\n"ExtractTimestamp","08-11-2026 07:04:12"\n'
        f'"ExtractType","full"\n"ExtractNumber","{seed % 1000}"\n"Version","1.0.0"\n', encoding="utf-8")
    (folder / "code.csv").write_text(CODE_CSV, encoding="utf-8")
    return counts


def _merge(numbers, extra):
    extra = list(extra)
    taken = {e["number"] for e in extra}
    for number in numbers:
        while extra and extra[0]["number"] < number:
            real = extra.pop(0)
            yield real["number"], real
        if number not in taken:
            yield number, None
    for real in extra:
        yield real["number"], real


def _write_real(real, dot, start, ent, den, adr, con, counts):
    form = real.get("form", "014")
    ent(f'"{dot}","AC","000","2","{form}",,{real.get("start", start)}\n')
    language = real.get("language", "2")
    den(f'"{dot}","{language}","001",{_q(real["name"])}\n')
    counts["denomination"] += 1
    for other_language, other_name in real.get("other_names", ()):
        den(f'"{dot}","{other_language}","001",{_q(other_name)}\n')
        counts["denomination"] += 1
    if real.get("abbreviation"):
        den(f'"{dot}","{language}","002",{_q(real["abbreviation"])}\n')
        counts["denomination"] += 1
    if real.get("street"):
        street_fr = real.get("street_fr", real["street"])
        city_fr = real.get("city_fr", real["city"])
        adr(f'"{dot}","REGO",,,"{real["zipcode"]}",{_q(real["city"])},{_q(city_fr)},{_q(real["street"])},'
            f'{_q(street_fr)},"{real["house"]}","{real.get("box", "")}","",\n')
        counts["address"] += 1
    for kind, key in (("TEL", "phone"), ("EMAIL", "email"), ("WEB", "web")):
        if real.get(key):
            con(f'"{dot}","ENT","{kind}",{_q(real[key])}\n')
            counts["contact"] += 1
    counts["enterprise"] += 1


# A subset of code.csv: the categories the loader reads, in the real layout.
CODE_CSV = """"Category","Code","Language","Description"
"JuridicalForm","014","DE","Aktiengesellschaft"
"JuridicalForm","014","FR","Société anonyme"
"JuridicalForm","014","NL","Naamloze vennootschap"
"JuridicalForm","015","DE","Privatgesellschaft mit beschränkter Haftung"
"JuridicalForm","015","FR","Société privée à responsabilité limitée"
"JuridicalForm","015","NL","Besloten vennootschap met beperkte aansprakelijkheid"
"JuridicalForm","017","DE","Vereinigung ohne Gewinnerzielungsabsicht"
"JuridicalForm","017","FR","Association sans but lucratif"
"JuridicalForm","017","NL","Vereniging zonder winstoogmerk"
"JuridicalForm","124","DE","Öffentliche Einrichtung"
"JuridicalForm","124","FR","Etablissement public"
"JuridicalForm","124","NL","Openbare instelling"
"JuridicalForm","610","DE","Gesellschaft mit beschränkter Haftung"
"JuridicalForm","610","FR","Société à responsabilité limitée"
"JuridicalForm","610","NL","Besloten vennootschap"
"JuridicalForm","706","DE","Genossenschaft"
"JuridicalForm","706","FR","Société coopérative"
"JuridicalForm","706","NL","Coöperatieve vennootschap"
"TypeOfEnterprise","1","FR","Personne physique"
"TypeOfEnterprise","1","NL","Natuurlijk Persoon"
"TypeOfEnterprise","2","FR","Personne morale"
"TypeOfEnterprise","2","NL","Rechtspersoon"
"""


# Enterprises whose number, name and seat are public (rows of the real open data, company footers);
# the sample adds them to synthetic ones so the demo finds familiar names.
SAMPLE_COMPANIES = (
    {"number": "0200065765", "name": "Intergemeentelijke Vereniging Veneco", "abbreviation": "Veneco", "form": "416",
     "street": "Panhuisstraat", "house": "1", "zipcode": "9070", "city": "Destelbergen", "start": "09-08-1960"},
    {"number": "0200068636", "name": "Farys", "form": "417", "street": "Stropstraat", "house": "1", "zipcode": "9000",
     "city": "Gent", "start": "16-02-1923"},
    {"number": "0200245711", "name": "Intercommunaal Sanatorium Denderoord", "abbreviation": "DENDEROORD", "form": "116",
     "street": "Hoge Buizemont", "house": "247", "zipcode": "9500", "city": "Geraardsbergen", "start": "01-01-1922"},
    {"number": "0200362210", "name": "in BW Association Intercommunale", "abbreviation": "in B.W.", "language": "1",
     "form": "706", "street": "Rue de la Religion", "house": "10", "zipcode": "1400", "city": "Nivelles",
     "email": "officiel.ic-inbw@inbw.be", "start": "26-02-1968"},
    {"number": "0200362408", "name": "Intercommunale Sociale du Brabant wallon", "abbreviation": "I.S.B.W.", "language": "1",
     "form": "706", "street": "Rue du Cerf", "house": "200", "zipcode": "1332", "city": "Rixensart",
     "phone": "02 315 13 51", "email": "info@isbw.be", "start": "01-01-1968"},
    {"number": "0202239951", "name": "Proximus", "form": "", "street": "Koning Albert II-laan", "street_fr": "Boulevard du Roi Albert II",
     "house": "27", "zipcode": "1030", "city": "Schaarbeek", "city_fr": "Schaerbeek"},
    {"number": "0314595348", "name": "Federale Overheidsdienst Economie, K.M.O., Middenstand en Energie", "form": "",
     "other_names": (("1", "Service public fédéral Economie, P.M.E., Classes moyennes et Energie"),),
     "street": "Vooruitgangstraat", "street_fr": "Rue du Progrès", "house": "50", "zipcode": "1210",
     "city": "Sint-Joost-ten-Node", "city_fr": "Saint-Josse-ten-Noode", "phone": "0800 120 33", "web": "economie.fgov.be"},
    {"number": "0400378485", "name": "Etablissementen Franz Colruyt", "abbreviation": "Colruyt", "form": "014"},
    {"number": "0403091220", "name": "Solvay", "language": "1", "form": "014"},
    {"number": "0403170701", "name": "Electrabel", "form": "014", "street": "Simon Bolivarlaan", "street_fr": "Boulevard Simon Bolivar",
     "house": "34", "zipcode": "1000", "city": "Brussel", "city_fr": "Bruxelles"},
    {"number": "0403227515", "name": "KBC Groep", "form": "014"},
    {"number": "0417497106", "name": "Anheuser-Busch InBev", "form": "014"},
)


# Made-up enterprises with fixed numbers, which the tests and the demo script rely on.
SAMPLE_FIXTURES = (
    {"number": "1001234592", "name": "Boulangerie Lefèvre-Dubois", "language": "1", "form": "610",
     "street": "Rue du Château", "house": "12", "box": "B", "zipcode": "5000", "city": "Namen", "city_fr": "Namur",
     "street_fr": "Rue du Château", "email": "bonjour@lefevre-dubois.example.com", "web": "www.lefevre-dubois.example.com"},
    {"number": "1002345639", "name": "Bäckerei Müller", "language": "3", "form": "610",
     "street": "Aachener Straße", "house": "3", "zipcode": "4700", "city": "Eupen"},
    {"number": "1003456783", "name": "Brasserie Lefèvre & Fils", "language": "1", "form": "014",
     "abbreviation": "B.L.F.", "street": "Grand-Place", "house": "1", "zipcode": "7000", "city": "Bergen", "city_fr": "Mons"},
    {"number": "0987654394", "name": "Dakwerken Peeters", "language": "2", "form": "610",
     "other_names": (("1", "Toitures Peeters"),), "street": "Kerkstraat", "street_fr": "Rue de l'Église", "house": "5",
     "zipcode": "1000", "city": "Brussel", "city_fr": "Bruxelles", "phone": "02 555 12 34"},
)


def write_sample(folder: Path, count: int = 300, seed: int = 7) -> dict:
    """The small extract shipped in clientdesk/demo/kbo/ (used by the tests and the demo)."""
    return generate(folder, count, seed=seed, extra=SAMPLE_COMPANIES + SAMPLE_FIXTURES)
