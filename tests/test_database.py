import os

import pytest

from statstak import database


def test_database_url_wins_over_the_embedded_server(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://portal:secret@db.internal:6543/statstak_prod")
    config = database.database_config()
    assert (config["HOST"], config["PORT"], config["NAME"], config["USER"]) == (
        "db.internal",
        6543,
        "statstak_prod",
        "portal",
    )
    assert config["ENGINE"] == "django.db.backends.postgresql"


@pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")), reason="runs against DATABASE_URL, not the embedded server")
def test_without_database_url_it_uses_the_embedded_server_in_the_checkout(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    config = database.database_config()
    assert config["NAME"] == database.EMBEDDED_DATABASE
    assert config["HOST"].startswith(str(database.BASE_DIR)) or "statstak-runtime" in config["HOST"]
    info = database._running_postmaster()
    assert info is not None and info.status == "ready"
