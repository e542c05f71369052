"""Scenario "embedded": run inside a C program that embeds CPython (targets/embed.c): two threads
blocked in nested calls (Event.wait, time.sleep) and the main thread, whose bottom frame is this
script run by PyRun_SimpleFileExFlags. faulthandler's watchdog writes the expected dump.
"""
import threading
import time

import pd_common as common

NEVER = threading.Event()


def waiting(started):
    started.set()
    NEVER.wait()


def sleeping(started):
    started.set()
    time.sleep(common.FOREVER)


def outer(started, inner):
    inner(started)


common.start(outer, waiting)
common.start(outer, sleeping)
common.finish_with_watchdog()
