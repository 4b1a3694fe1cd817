"""Test doubles of the systems outside the portal, each a local HTTP server its real SDK talks to.

`stripe.py` and `twilio.py` hold the fakes and what a test needs to speak their language (signed
webhooks, error documents); `fixtures.py` registers them as fixtures for every test (the root
conftest lists it in `pytest_plugins`).
"""
