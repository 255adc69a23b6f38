"""The workbooks the import hands out, written with openpyxl: the template to fill in (FR/NL/EN
headers, required columns marked, an example row, dropdowns, an instructions sheet) and a user's
file annotated with its errors (error cells marked and commented, plus an errors sheet)."""
from collections import defaultdict

import pycountry
from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import column_index_from_string, get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation

from ..forms.validators import SUPPORTED_LANGUAGES
from ..spreadsheets import xlsx_cell, xlsx_value
from .columns import COLUMNS, EXAMPLE_ROWS, YES_NO
from .reader import DEFAULT_MAX_ROWS, MAX_FILE_BYTES, first_worksheet

MB = 1024 * 1024
REQUIRED_FILL = PatternFill("solid", fgColor="FFF2CC")
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
ERROR_FILL = PatternFill("solid", fgColor="FFC7CE")
BOLD = Font(bold=True)
EXAMPLE_FONT = Font(italic=True, color="808080")
COMMENT_AUTHOR = "ClientDesk"

TEXTS = {
    "fr": {
        "data": "Clients", "instructions": "Instructions", "lists": "Listes",
        "columns": ("Colonne", "Obligatoire", "Quoi écrire", "Exemple"), "yes": "Oui", "no": "",
        "invalid": "Valeur hors de la liste : l'import la refusera si elle n'est pas valable.",
        "rules": (
            "Importer des clients : une ligne par client, à partir de la ligne 2.",
            "Les colonnes marquées d'un * sont obligatoires. L'ordre des colonnes est libre ; les en-têtes en français, néerlandais ou anglais sont reconnus.",
            "La ligne 2 est un exemple : remplacez-la par un vrai client ou supprimez-la.",
            "Tout le fichier est vérifié avant l'import. S'il contient une seule erreur, rien n'est importé : vous recevez chaque erreur (ligne, colonne, message) et ce fichier annoté.",
            "Un client déjà présent (même numéro d'entreprise, sinon même e-mail de contact) n'est pas créé une deuxième fois : ses données sont mises à jour, et une cellule vide ne change rien.",
            f"Les lignes vides sont ignorées. Au plus {DEFAULT_MAX_ROWS:,} clients et {MAX_FILE_BYTES // MB} Mo par fichier.".replace(",", " "),
            "Pour voir ce qui serait créé ou modifié sans rien importer, cochez « Vérifier seulement » à l'import.",
        ),
    },
    "nl": {
        "data": "Klanten", "instructions": "Instructies", "lists": "Lijsten",
        "columns": ("Kolom", "Verplicht", "Wat invullen", "Voorbeeld"), "yes": "Ja", "no": "",
        "invalid": "Waarde niet in de lijst: de import weigert ze als ze niet geldig is.",
        "rules": (
            "Klanten importeren: één rij per klant, vanaf rij 2.",
            "Kolommen met een * zijn verplicht. De volgorde van de kolommen is vrij; Nederlandse, Franse of Engelse kolomnamen worden herkend.",
            "Rij 2 is een voorbeeld: vervang ze door een echte klant of verwijder ze.",
            "Het hele bestand wordt gecontroleerd voor de import. Bevat het één fout, dan wordt niets geïmporteerd: u krijgt elke fout (rij, kolom, melding) en dit bestand met de fouten aangeduid.",
            "Een klant die er al is (zelfde ondernemingsnummer, anders zelfde e-mail van de contactpersoon) wordt geen tweede keer aangemaakt: zijn gegevens worden bijgewerkt, en een lege cel verandert niets.",
            f"Lege rijen worden overgeslagen. Hoogstens {DEFAULT_MAX_ROWS:,} klanten en {MAX_FILE_BYTES // MB} MB per bestand.".replace(",", "."),
            "Om te zien wat aangemaakt of gewijzigd zou worden zonder iets te importeren, vink « Alleen controleren » aan bij de import.",
        ),
    },
    "en": {
        "data": "Clients", "instructions": "Instructions", "lists": "Lists",
        "columns": ("Column", "Required", "What to write", "Example"), "yes": "Yes", "no": "",
        "invalid": "Value not in the list: the import will refuse it if it is not valid.",
        "rules": (
            "Importing clients: one row per client, from row 2.",
            "Columns marked * are required. The columns may be in any order; English, French or Dutch headers are recognised.",
            "Row 2 is an example: replace it with a real client or delete it.",
            "The whole file is checked before anything is imported. If it has a single error, nothing is imported: you get every error (row, column, message) and this file annotated.",
            "A client that already exists (same enterprise number, otherwise same contact e-mail) is not created twice: its details are updated, and an empty cell changes nothing.",
            f"Empty rows are ignored. At most {DEFAULT_MAX_ROWS:,} clients and {MAX_FILE_BYTES // MB} MB per file.",
            "To see what would be created or changed without importing anything, tick “Check only” when importing.",
        ),
    },
}


def template_workbook(language: str, template_names: list[str], group_names: list[str], plan_names: list[str]) -> Workbook:
    """The import template in `language` (fr, nl or en), with dropdowns of the current templates, groups and plans
    offered (in the catalogue's order)."""
    texts = TEXTS[language]
    workbook = Workbook()
    data = workbook.active
    data.title = texts["data"]
    instructions = workbook.create_sheet(texts["instructions"])
    lists = workbook.create_sheet(texts["lists"])
    lists.sheet_state = "hidden"

    example = EXAMPLE_ROWS[language]
    for index, column in enumerate(COLUMNS, start=1):
        header = data.cell(row=1, column=index, value=column.header(language))
        header.font = BOLD
        header.fill = REQUIRED_FILL if column.required else HEADER_FILL
        cell = data.cell(row=2, column=index, value=example.get(column.key, template_names[0] if column.key == "template" and template_names else None))
        cell.font = EXAMPLE_FONT
        data.column_dimensions[get_column_letter(index)].width = column.width
    data.freeze_panes = "A2"

    choices = {
        "country": sorted(c.alpha_2 for c in pycountry.countries),
        "contact_language": [f"{lang}-BE" for lang in SUPPORTED_LANGUAGES],
        "template": sorted(template_names, key=str.casefold),
        "group": sorted(group_names, key=str.casefold),
        "plan": plan_names,
    }
    yes_no = '"{},{}"'.format(*YES_NO[language])
    for list_column, (_key, values) in enumerate(choices.items(), start=1):
        for row, value in enumerate(values, start=1):
            lists.cell(row=row, column=list_column, value=value)
    last_row = DEFAULT_MAX_ROWS + 1
    for index, column in enumerate(COLUMNS, start=1):
        list_key = "country" if column.key == "billing_country" else column.key
        if list_key in choices:
            if not choices[list_key]:
                continue
            list_letter = get_column_letter(list(choices).index(list_key) + 1)
            formula = f"{quote_sheetname(lists.title)}!${list_letter}$1:${list_letter}${len(choices[list_key])}"
        elif column.key in ("mandate", "invitation", "billing_same_as_address"):
            formula = yes_no
        else:
            continue
        validation = DataValidation(type="list", formula1=formula, allow_blank=True, errorStyle="warning",
                                    error=texts["invalid"], showErrorMessage=True)
        letter = get_column_letter(index)
        validation.add(f"{letter}2:{letter}{last_row}")
        data.add_data_validation(validation)

    for rule in texts["rules"]:
        instructions.append([rule])
    instructions.append([])
    instructions.append(list(texts["columns"]))
    header_row = instructions.max_row
    for cell in instructions[header_row]:
        cell.font = BOLD
        cell.fill = HEADER_FILL
    for column in COLUMNS:
        instructions.append([
            column.header(language), texts["yes"] if column.required else texts["no"], column.hints[language],
            example.get(column.key, ""),
        ])
    instructions["A1"].font = Font(bold=True, size=13)
    for letter, width in zip("ABCD", (32, 12, 90, 26)):
        instructions.column_dimensions[letter].width = width
    for row in instructions.iter_rows(min_row=header_row + 1):
        row[2].alignment = Alignment(wrap_text=True, vertical="top")
    return workbook


def annotated_workbook(path: str, errors: list[dict]) -> Workbook:
    """The user's first worksheet as it was read, each cell with an error filled and commented, and an
    errors sheet listing them all. Returns a write-only workbook: save it once."""
    sheet = first_worksheet(path)
    by_cell = defaultdict(list)
    for error in errors:
        if error["row"] and error["letter"]:
            by_cell[(error["row"], column_index_from_string(error["letter"]) - 1)].append(error["message"])

    workbook = Workbook(write_only=True)
    data = workbook.create_sheet(sheet.name)
    data.freeze_panes = "A2"
    lead = [None] * (sheet.start[1] if sheet.start else 0)  # calamine rows begin at the first used column
    for number, cells in enumerate(sheet.iter_rows() if sheet.start else [], start=1):
        row = lead + cells
        data.append([_cell(data, value, by_cell.get((number, index))) for index, value in enumerate(row)])

    listing = workbook.create_sheet(_("Errors"))
    listing.append([_header(listing, title) for title in (_("Row"), _("Column"), _("Header"), _("Message"))])
    for error in sorted(errors, key=lambda e: (e["row"], column_index_from_string(e["letter"]) if e["letter"] else 0)):
        listing.append([xlsx_value(listing, value) for value in (error["row"] or None, error["letter"] or None,
                                                                  error["column"] or None, error["message"])])
    return workbook


def _header(sheet, title: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=title)
    cell.font = BOLD
    return cell


def _cell(sheet, value, messages: list[str] | None):
    if value == "":
        value = None
    if not messages:
        return xlsx_value(sheet, value)
    cell = xlsx_cell(sheet, value)
    cell.fill = ERROR_FILL
    comment = Comment("\n".join(messages), COMMENT_AUTHOR)
    comment.width, comment.height = 300, 60 + 20 * len(messages)
    cell.comment = comment
    return cell
