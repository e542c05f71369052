"""Python 2.7 scenario "gil_VARIANT": one thread holds the GIL inside a C call (libc sleep through
ctypes.PyDLL) and is shown as the "Current thread" (2.7: _PyThreadState_Current). Variants: "main",
"worker" (a worker holds it while the main thread sleeps), "gc" (the main thread holds it inside
a weakref callback run by gc.collect(): 2.7's collector never calls __del__ of an object in a
cycle, but it does call the callbacks of weak references to one). Usage: py2_gil.py OUT_DIR VARIANT
"""
import gc
import threading
import time
import weakref

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


class Node(object):
    pass


def collected(reference):
    common.dump_holding_gil()


def collect_garbage():
    gc.disable()
    cycle = Node()
    cycle.self = cycle
    reference = weakref.ref(cycle, collected)
    del cycle
    gc.collect()
    return reference


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
    elif variant == "gc":
        common.wait_parked()
        collect_garbage()
    else:
        common.fail("unknown variant %r" % variant)


main()
