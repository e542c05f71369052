"""Scenario "gil_VARIANT": one thread holds the GIL inside a C call (libc sleep through
ctypes.PyDLL), which pystack-dump shows as the "Current thread".

The expected output comes from faulthandler.dump_traceback(all_threads=True) run by that thread
on the same source line as the C call (pd_common.dump_holding_gil), once every other thread is
parked. Variants: "main" (the main thread holds the GIL), "worker" (a worker holds it while the
main thread sleeps), "gc" (the main thread holds it inside a __del__ run by gc.collect(): 3.10+
print "Garbage-collecting" under the current thread). Usage: gil.py OUT_DIR VARIANT
"""
import gc
import threading
import time

import pd_common as common

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


class Finalizer(object):
    def __del__(self):
        common.dump_holding_gil()


def collect_garbage():
    gc.disable()
    cycle = Finalizer()
    cycle.self = cycle
    del cycle
    gc.collect()


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
