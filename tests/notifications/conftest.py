# tests/security/test_logs_keep_secrets_out.py still imports `queue_clear` from here; it lives in
# tests/helpers.py now, and this line goes once that test (owned with tests/security/) imports it there.
from tests.helpers import queue_clear  # noqa: F401
