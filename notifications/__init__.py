"""Messages to customers: what was sent, through which channel, and what became of it.

The rest of the portal calls one entry point, `notifications.services.customer_notify`, and never
knows the channel: today a text message (`sms.py`, the only importer of twilio), tomorrow perhaps
an e-mail as well, which would be a new backend here and nothing anywhere else.
"""
