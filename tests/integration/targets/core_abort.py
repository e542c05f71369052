"""os.abort() a few calls deep in a worker thread while the main thread waits for it (join) and
other threads are blocked. Run under -X faulthandler: its crash report goes to stderr."""
import os
import threading
import time

import core_common as common


def abort_inner():
    os.abort()


def abort_outer():
    abort_inner()


def aborter(started, go):
    started.set()
    go.wait()
    time.sleep(common.PARK_DELAY)  # the main thread is in join() by then
    abort_outer()


def main():
    common.park_workers()
    go = threading.Event()
    thread = common.start(aborter, go)
    common.wait_parked()
    go.set()
    thread.join()


main()
