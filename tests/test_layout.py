"""The layout stays one room per responsibility (docs/architecture.md). Import directions and
cycles are checked by import-linter in `make lint`; this checks what it cannot."""

from pathlib import Path

from django.conf import settings

ROOMS = ["core", "audit", "notifications", "accounts", "payments", "refunds", "books", "privacy", "statstak"]
# Past this a module has grown a second concern: split it into a package (STYLE.md).
MODULE_MAX_LINES = 400


def _modules() -> list[Path]:
    base = Path(settings.BASE_DIR)
    return [path for room in ROOMS for path in (base / room).rglob("*.py") if "migrations" not in path.parts]


def test_every_room_is_looked_at():
    # Else the check below would pass on nothing.
    names = {path.parent.name for path in _modules()}
    assert set(ROOMS) <= names


def test_no_module_outside_migrations_is_over_400_lines():
    too_long = {
        str(path.relative_to(settings.BASE_DIR)): lines
        for path in _modules()
        if (lines := len(path.read_text().splitlines())) > MODULE_MAX_LINES
    }
    assert too_long == {}, f"split these into packages: {too_long}"
