# Payments and the ledger arrive with their issues; the app exists so the layering is fixed.
