"""PlainSelect writes the <select> Django's Select writes (without a template per option): the same
options, selection, attributes and escaping."""

import re

import pytest
from django import forms

from core.forms import PlainSelect

CHOICES = [("", "Any"), ("1", 'Ada <Admin> & "Co"'), ("2", "Ben"), (3, "Cleo")]


def html(widget: forms.Select, value, attrs=None) -> str:
    # Django's templates leave blank lines between options; a browser reads them as nothing.
    return re.sub(r">\s+<", "><", str(widget.render("who", value, attrs=attrs)))


@pytest.mark.parametrize(
    ("value", "attrs"),
    [
        (None, {"id": "id_who"}),
        ("1", {"id": "id_who"}),
        (3, None),
        ("nobody", {"id": "id_who", "aria-invalid": "true", "aria-describedby": "id_who_error"}),
        ("2", {"id": "id_who", "required": True, "disabled": False}),
    ],
)
def test_it_writes_what_djangos_select_writes(value, attrs):
    ours = html(PlainSelect(choices=CHOICES), value, attrs)
    assert "Ada &lt;Admin&gt; &amp; &quot;Co&quot;" in ours  # else equal could mean equally empty
    assert ours == html(forms.Select(choices=CHOICES), value, attrs)


def test_it_selects_the_chosen_option_only():
    ours = html(PlainSelect(choices=CHOICES), "2", {"id": "id_who"})
    assert ours.count(" selected") == 1 and '<option value="2" selected>Ben</option>' in ours


def test_option_groups_are_written_by_djangos_templates():
    grouped = [("People", [("1", "Ada"), ("2", "Ben")]), ("", "None")]
    assert html(PlainSelect(choices=grouped), "1") == html(forms.Select(choices=grouped), "1")
    assert "<optgroup" in html(PlainSelect(choices=grouped), "1")
