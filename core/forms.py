"""Form fields every room uses."""

from django import forms


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
