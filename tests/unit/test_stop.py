"""The worker's stop flag: raised by SIGTERM in the middle of a wait, it must never hang the process.

threading.Event cannot be used there: its set() takes the lock its wait() holds for a moment, and a signal
handler runs on the waiting thread, so a SIGTERM landing in that moment hangs the worker for good (a CI run
saw a worker that never exited).
"""

import subprocess
import sys
import textwrap
import threading

import pytest

from receiver.worker import StopFlag

SIGNAL_STORM = textwrap.dedent("""
    import signal
    from receiver.worker import StopFlag

    for trial in range(1500):
        stop = StopFlag()
        signal.signal(signal.SIGALRM, lambda *_: stop.set())
        signal.setitimer(signal.ITIMER_REAL, 0.0002 + (trial % 9) * 0.0001)
        while not stop.is_set():
            stop.wait(0.00001)
        stop.close()
    print("stopped", trial + 1)
""")


@pytest.mark.timeout(180)  # the storm's own bound of 120 s comes first and says what hung
def test_a_signal_raising_the_flag_in_the_middle_of_waits_always_stops_the_loop():
    # with threading.Event in place of StopFlag this program hangs within a few hundred trials
    done = subprocess.run([sys.executable, "-c", SIGNAL_STORM], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["stopped", "1500"]


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
