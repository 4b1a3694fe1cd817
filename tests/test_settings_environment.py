"""Settings fail closed: a value the portal cannot read stops it at start-up, in one line that
names the variable, instead of meaning something else."""

import os
import subprocess
import sys

import pytest
from django.conf import settings

from statstak.environment import EnvironmentRefused, env_bool, env_float, env_int


def manage_check(**env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=settings.BASE_DIR,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_it_starts_with_good_values():
    # Else the refusals below could come from anything.
    result = manage_check(STATSTAK_REQUIRE_2FA="yes", LOGIN_FAILURE_LIMIT="7")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("STATSTAK_REQUIRE_2FA", "ture"),
        ("DJANGO_DEBUG", "maybe"),
        ("LOGIN_FAILURE_LIMIT", "five"),
        ("REFUND_APPROVAL_THRESHOLD", "\u09ea0000"),  # a Bengali four first: int() would read 40000
        ("SMS_RETRY_BACKOFF_SECONDS", "nan"),
        ("SESSION_IDLE_SECONDS", "-5"),
        ("STATSTAK_ENV", "prod"),
        ("LOG_LEVEL", "LOUD"),
        ("PHONENUMBER_DEFAULT_REGION", "XX"),
        ("DATABASE_CONN_MAX_AGE", "1e3"),
    ],
)
def test_it_refuses_to_start_on_a_value_it_cannot_read(name, value):
    result = manage_check(**{name: value})
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {name}=")


@pytest.mark.parametrize("value", ["1", "true", "YES", "on"])
def test_yes_values_read_as_true(monkeypatch, value):
    monkeypatch.setenv("SOME_FLAG", value)
    assert env_bool("SOME_FLAG", False) is True


@pytest.mark.parametrize("value", ["0", "false", "No", "off"])
def test_no_values_read_as_false(monkeypatch, value):
    monkeypatch.setenv("SOME_FLAG", value)
    assert env_bool("SOME_FLAG", True) is False


def test_an_unset_or_blank_value_is_the_default(monkeypatch):
    monkeypatch.delenv("SOME_NUMBER", raising=False)
    assert env_int("SOME_NUMBER", 12) == 12
    monkeypatch.setenv("SOME_NUMBER", "  ")
    assert env_int("SOME_NUMBER", 12) == 12


def test_numbers_keep_to_their_range(monkeypatch):
    monkeypatch.setenv("SOME_NUMBER", "3")
    assert env_int("SOME_NUMBER", 1, minimum=1, maximum=5) == 3
    monkeypatch.setenv("SOME_NUMBER", "9")
    with pytest.raises(EnvironmentRefused, match="SOME_NUMBER=9 is out of range"):
        env_int("SOME_NUMBER", 1, minimum=1, maximum=5)
    monkeypatch.setenv("SOME_NUMBER", "inf")
    with pytest.raises(EnvironmentRefused, match="not a number"):
        env_float("SOME_NUMBER", 1.0)
