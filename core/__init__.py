"""What every app may use, importing no app of ours: correlation ids, log masking, the typed HTMX
request, a PostgreSQL rate limiter, and money in minor units."""
