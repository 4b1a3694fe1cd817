from django import forms


class CreditBatchUploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="Columns: customer (email or id), credits_delta (a whole number, - to take away), note.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )
