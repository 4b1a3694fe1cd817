"""The randomized simulation of the money system (tests/books/simulation.py), within a budget.

CI runs SIM_RUNS runs of SIM_STEPS steps from a random base seed, printed; `make simulate` runs
thousands, and `make simulate SEED=…` replays one run exactly.
"""

import os
import random
from collections import Counter

import pytest

from tests.books.simulation import InvariantBroken, Run, simulation_staff, world_reset

pytestmark = pytest.mark.django_db(transaction=True)

RUNS = int(os.environ.get("SIM_RUNS", "12"))
STEPS = int(os.environ.get("SIM_STEPS", "40"))


@pytest.fixture
def simulated_twilio(twilio, settings):
    settings.TWILIO_TIMEOUT_SECONDS = 0.2  # "too late": the fake answers after 0.4 s
    settings.SMS_SEND_MAX_ATTEMPTS = 3
    return twilio


@pytest.fixture
def simulated_stripe(stripe_api, settings):
    settings.REFUND_APPROVAL_THRESHOLD = 4000  # some refunds wait for a second person
    settings.REFUND_DAILY_CAP = 10**9
    settings.RECONCILE_AFTER_SECONDS = 0
    # Stripe answering too late: the portal gives up after 0.3 s; the fake answered after 0.6 s.
    settings.STRIPE_TIMEOUT_SECONDS = 0.3
    stripe_api.hold_seconds = 0.6
    return stripe_api


def test_random_runs_keep_every_rule_after_every_step(simulated_stripe, simulated_twilio):
    replay = os.environ.get("SIM_SEED")
    seeds = [int(replay)] if replay else [random.randrange(2**32) + run for run in range(RUNS)]
    print(f"simulation: {len(seeds)} runs of {STEPS} steps, seeds {seeds[0]}…{seeds[-1]}")  # to replay a failure
    totals: Counter = Counter()
    staff = simulation_staff()
    for number, seed in enumerate(seeds, start=1):
        world_reset(simulated_stripe, simulated_twilio)
        totals += Run(seed=seed, stripe=simulated_stripe, steps=STEPS, staff=staff, twilio=simulated_twilio).play()
        if number % 250 == 0:  # a long `make simulate` shows how far it got
            print(f"{number} runs, {totals.total()} steps, seeds {seeds[0]}…{seed}: no violation", flush=True)
    print(dict(totals))
    # Else the runs proved little: each kind of step must have happened.
    for kind in (
        "refund",
        "crash after reservation",
        "crash before recording",
        "webhook",
        "dispute",
        "reconcile",
        "sms",
    ):
        assert totals[kind] > 0 or len(seeds) == 1, (kind, totals)


def test_it_catches_a_bug_planted_in_the_services(simulated_stripe, monkeypatch):
    """Else a simulation that checks nothing would pass: a refund that forgets to tell the customer."""
    monkeypatch.setattr("refunds.services.settle.customer_notify", lambda **kwargs: None)
    with pytest.raises(InvariantBroken, match="messages"):
        for seed in range(20):
            Run(seed=seed, stripe=simulated_stripe, steps=STEPS).play()
