"""Python 2.7 scenario "threads_N": N Python threads in all, the main thread included. Past 100
threads the dump ends with "..." and the main thread (the oldest) is not shown.
Usage: py2_many_threads.py OUT_DIR N
"""
import threading
import time

import py2_common as common

NEVER = threading.Event()


def in_event(started):
    started.set()
    NEVER.wait()


def in_sleep(started):
    started.set()
    time.sleep(common.FOREVER)


def nested(started):
    in_event(started)


def main():
    total = int(common.ARGS[0])
    kinds = (in_event, in_sleep, nested)
    for i in range(total - 1):
        common.start(kinds[i % len(kinds)])
    common.finish_with_watchdog()


main()
