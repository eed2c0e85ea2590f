"""The worker's stop flag: raised by SIGTERM in the middle of a wait, it must never hang the process.

threading.Event cannot be used there: its set() takes the lock its wait() holds for a moment, and a signal
handler runs on the waiting thread, so a SIGTERM landing in that moment hangs the worker for good (a CI run
saw a worker that never exited).
"""

import threading

from receiver.worker import StopFlag


def test_wait_returns_false_when_nobody_raised_the_flag():
    stop = StopFlag()
    try:
        assert stop.is_set() is False
        assert stop.wait(0.01) is False
        assert stop.wait(0) is False
    finally:
        stop.close()


def test_another_thread_raising_the_flag_wakes_the_waiter_and_every_later_wait_returns_at_once():
    stop = StopFlag()
    try:
        woke = []
        waiter = threading.Thread(target=lambda: woke.append(stop.wait(60)))
        waiter.start()
        stop.set()
        waiter.join(10)
        assert woke == [True]
        assert stop.is_set() is True
        assert stop.wait(60) is True and stop.wait(60) is True  # the pipe is never drained
        stop.set()  # raising it twice is harmless
        assert stop.is_set() is True
    finally:
        stop.close()
