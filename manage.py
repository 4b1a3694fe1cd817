#!/usr/bin/env python
"""Django's command-line utility for the StatStak Labs admin portal."""

import importlib
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "statstak.settings")
    from statstak.environment import EnvironmentRefused

    try:
        # Read the settings first, so that a bad value in the environment is one line, not a traceback.
        importlib.import_module(os.environ["DJANGO_SETTINGS_MODULE"])
    except EnvironmentRefused as refused:
        sys.exit(f"error: {refused}")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
