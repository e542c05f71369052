"""A target for the signal and error tests: N parked threads plus a non-daemon thread that echoes
whatever arrives on stdin to stdout (proof that the process still runs). No dump is written; the
marker says "idle". Usage: echo.py OUT_DIR N
"""
import os
import threading

import pd_common as common

NEVER = threading.Event()


def parked(started):
    started.set()
    NEVER.wait()


def echo():
    while True:
        data = os.read(0, 4096)
        if not data:
            return
        os.write(1, data)


def main():
    for _ in range(int(common.ARGS[0])):
        common.start(parked)
    threading.Thread(target=echo).start()  # not a daemon
    common.finish_idle()


main()
