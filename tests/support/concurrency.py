"""Several workers at once: the same action started together in threads, each with its
own database connection (closed at its end), as several worker processes would run it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from django.db import connections

T = TypeVar("T")


def run_together(action: Callable[[], T], workers: int = 2) -> list[T]:
    """Run `action` in `workers` threads released at the same instant; return what each
    returned. Any exception raised in a thread is raised again here, after all have ended."""
    barrier = threading.Barrier(workers)
    results: list[T] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait()
            results.append(action())
        except BaseException as exc:  # noqa: BLE001 - raised again below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results
