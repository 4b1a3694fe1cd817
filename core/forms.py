"""Form fields every room uses."""

from django import forms
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString


class WholeNumberField(forms.IntegerField):
    """An integer typed in ASCII digits only.

    Django's IntegerField reads whatever int() reads, which includes other scripts' digits (U+09EA,
    a Bengali four, looks like an 8) and full-width ones: a number staff cannot read back is
    refused, in words."""

    default_error_messages = {"invalid": "Enter a whole number in the digits 0-9."}

    def to_python(self, value):
        if isinstance(value, str):
            text = value.strip()
            digits = text.removeprefix("-").removeprefix("+")
            if text and not (digits.isascii() and digits.isdigit()):
                raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


def _widget_attrs(attrs: dict) -> SafeString:
    """As Django's widgets/attrs.html writes them, in their order: True a bare name, False left out."""
    return format_html_join(
        "",
        "{}",
        (
            (format_html(" {}", name) if value is True else format_html(' {}="{}"', name, value),)
            for name, value in attrs.items()
            if value is not False
        ),
    )


class PlainSelect(forms.Select):
    """Django's <select>, written in Python rather than through a template per <option>.

    The HTML is Django's (the same attributes: id, selected, aria-invalid), only cheaper: the
    built-in widget renders two templates for each option, which on a filter with dozens of
    options costs more than the rest of the page. Option groups fall back to Django's templates."""

    def render(self, name, value, attrs=None, renderer=None):
        context = self.get_context(name, value, attrs)["widget"]
        if any(group_name for group_name, _, _ in context["optgroups"]):
            return super().render(name, value, attrs, renderer)
        options = format_html_join(
            "",
            '\n  <option value="{}"{}>{}</option>',
            (
                (option["value"], _widget_attrs(option["attrs"]), option["label"])
                for _, group, _ in context["optgroups"]
                for option in group
            ),
        )
        return format_html(
            '<select name="{}"{}>{}\n</select>', context["name"], _widget_attrs(context["attrs"]), options
        )
