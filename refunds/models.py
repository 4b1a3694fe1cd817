# Refunds arrive with their issue; the app exists so the layering is fixed.
