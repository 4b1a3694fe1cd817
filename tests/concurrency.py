"""Running work in real threads, each with its own database connection, released together."""

import threading

from django.db import connection


def run_together(work, count: int) -> list:
    """Run `work(i)` in `count` threads released at the same instant; return results or exceptions."""
    start = threading.Barrier(count)
    results: list = [None] * count

    def worker(index: int) -> None:
        try:
            start.wait()
            results[index] = work(index)
        except Exception as error:  # collected and asserted on by the test
            results[index] = error
        finally:
            connection.close()  # each thread's own connection

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a worker hung (deadlock?)"
    return results
