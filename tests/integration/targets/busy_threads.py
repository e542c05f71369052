"""Scenario "busy_threads N": N threads run Python code at the same time (on a free-threaded build,
truly in parallel), each in a loop of small calls, while the main thread sleeps. No dump: the
target is idle (pd_common.finish_idle) once every thread runs. Usage: busy_threads.py OUT_DIR N
Lives 600 s, not pd_common's 60: the test dumps it 200 times, about a second each under the
sanitizers' build (it still dies with the harness).
"""
import signal

import pd_common as common

LIFETIME = 600
signal.alarm(LIFETIME)


def leaf(i):
    total = 0
    for k in range(50):
        total += k * i
    return total


def middle(i):
    return leaf(i) + leaf(i + 1)


def busy(started, index):
    started.set()
    n = 0
    while True:
        n = middle(index) + n % 7


def main():
    for index in range(int(common.ARGS[0])):
        common.start(busy, index)
    common.finish_idle()


main()
