"""The queue's jobs for the books: the daily check."""

from procrastinate.contrib.django import app

from books.services import books_check_record


@app.periodic(cron="30 3 * * *")
@app.task(name="books.check", queue="housekeeping", queueing_lock="books_check")
def books_check(timestamp: int) -> None:
    """Every night: check the books and keep the result (the Books page shows the last one)."""
    books_check_record()
