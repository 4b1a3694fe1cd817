"""The audit trail: who did what to whom, written with the action it records.

Each app declares the actions it records (`audit_actions_register` in its AppConfig.ready()), so
a new action needs no migration here. The user is `settings.AUTH_USER_MODEL`: audit imports no
app of ours but core.
"""
