"""Field validators and normalisers shared by admin forms, the create wizard and import rows."""
from enum import Enum

from wtforms import SelectChoice


def select_choices_of(enum: type[Enum]) -> list[SelectChoice]:
    """A labelled enum's members as the options of a WTForms select field. (Flask-Admin's column_choices,
    form_choices and filter options take models.base.choices_of's (value, label) pairs instead.)"""
    return [SelectChoice(member.value, member.label) for member in enum]
