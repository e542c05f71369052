"""Python 2.7 scenario "gil_VARIANT": one thread holds the GIL inside a C call (libc sleep through
ctypes.PyDLL) and is shown as the "Current thread" (2.7: _PyThreadState_Current). Variants: "main",
"worker" (a worker holds it while the main thread sleeps). Usage: py2_gil.py OUT_DIR VARIANT
"""
import threading
import time

import py2_common as common

NEVER = threading.Event()


def parked_in_event(started):
    started.set()
    NEVER.wait()


def parked_in_sleep(started):
    started.set()
    time.sleep(common.FOREVER)


def gil_worker(started, go):
    started.set()
    go.wait()
    time.sleep(common.PARK_DELAY)  # lets the main thread park in its final call
    common.dump_holding_gil()


def main():
    variant = common.ARGS[0]
    common.start(parked_in_event)
    common.start(parked_in_sleep)
    if variant == "main":
        common.wait_parked()
        common.dump_holding_gil()
    elif variant == "worker":
        go = threading.Event()
        common.start(gil_worker, go)
        common.wait_parked()
        go.set()
        time.sleep(common.FOREVER)
    else:
        common.fail("unknown variant %r" % variant)


main()
