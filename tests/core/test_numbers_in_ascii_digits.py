"""Numbers are typed in ASCII digits only: a Bengali four (U+09EA, drawn like an eight) or Arabic-Indic
digits are a form error in words, never read as a number nobody meant."""

import pytest
from django import forms

from core.forms import WholeNumberField
from core.money import MoneyParseError, money_parse

OTHER_SCRIPTS = ["\u09ea0", "\u0661\u0662\u0663", "\uff14\uff10", "4\u0660", "\u09ea0.00"]


class NumberForm(forms.Form):
    number = WholeNumberField(required=False, min_value=0)


@pytest.mark.parametrize("text", OTHER_SCRIPTS)
def test_money_in_other_scripts_digits_is_refused(text):
    with pytest.raises(MoneyParseError):
        money_parse(text, "USD")


def test_money_in_ascii_digits_is_read():
    # Else the refusals above could be refusals of everything.
    assert money_parse("40.00", "USD") == 4000
    assert money_parse("1,234.5", "USD") == 123450


@pytest.mark.parametrize("text", OTHER_SCRIPTS[:4])
def test_a_whole_number_in_other_scripts_digits_is_a_form_error(text):
    form = NumberForm({"number": text})
    assert not form.is_valid()
    assert form.errors["number"] == ["Enter a whole number in the digits 0-9."]


@pytest.mark.parametrize(("text", "number"), [("40", 40), (" 7 ", 7), ("", None)])
def test_a_whole_number_in_ascii_digits_is_read(text, number):
    form = NumberForm({"number": text})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["number"] == number
