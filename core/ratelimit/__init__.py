"""Rate limits that hold across every web process: counters in PostgreSQL (`services.rate_limit_hit`).

Django's default cache lives in each process, so a limit kept there would multiply with the number
of gunicorn workers; the database is the one thing they all share.
"""
