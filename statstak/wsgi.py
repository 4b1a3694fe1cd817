import os
import sys

from django.core.wsgi import get_wsgi_application

from statstak.environment import EnvironmentRefused

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "statstak.settings")

try:
    application = get_wsgi_application()
except EnvironmentRefused as refused:
    # One line naming the variable, not a traceback; gunicorn then stops ("failed to boot").
    sys.exit(f"error: {refused}")
