from django import forms


class ErasureForm(forms.Form):
    confirm_email = forms.CharField(
        max_length=254,
        strip=True,
        error_messages={"required": "Type the customer's email address to confirm."},
    )
