"""A customer's payments and ledger entries are reached through their newest-first indexes only."""

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("table", ["payments_payment", "payments_ledgerentry"])
def test_no_index_is_on_the_customer_alone(table):
    """payments 0012 dropped the foreign keys' own indexes by name: had a name been wrong, the
    migrations that built this database would have left one here."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", [table])
        indexes = dict(cursor.fetchall())
    assert not [name for name, definition in indexes.items() if definition.endswith("(user_id)")]
    assert any(definition.endswith("(user_id, created_at DESC, id DESC)") for definition in indexes.values())
