"""Helpers shared by the core-file targets (tests/integration/targets/core_*.py).

Every target runs as   python -B TARGET.py OUT_DIR [ARGS...]
with its working directory where its core is expected. The crash targets park some threads in
blocking calls, then die of a fatal signal under `python -X faulthandler`: CPython's own crash
report on stderr is what pystack-dump must print from the core. core_live.py parks its threads
and writes OUT_DIR/ready as pd_common.py's targets do (for gcore).

Keep the syntax valid for Python 2.7 and 3.6+. Every target kills itself after LIFETIME seconds
(SIGALRM's default action, which leaves no core) and dies with its parent.
"""
import ctypes
import os
import signal
import sys
import threading
import time

LIFETIME = 60         # seconds before the process kills itself
FOREVER = 3600        # longer than LIFETIME: "blocks until killed"
PARK_DELAY = 0.3      # after the last worker said "started", lets every worker enter its call

if len(sys.argv) < 2:
    sys.stderr.write("usage: %s OUT_DIR [ARGS...]\n" % sys.argv[0])
    sys.exit(2)
OUT_DIR = sys.argv[1]
ARGS = sys.argv[2:]
READY_PATH = os.path.join(OUT_DIR, "ready")
DUMP_PATH = os.path.join(OUT_DIR, "expected.txt")

signal.alarm(LIFETIME)

libc = ctypes.PyDLL(None)  # PyDLL: calls keep the GIL
_PR_SET_PDEATHSIG = 1
_parent = os.getppid()
libc.prctl(_PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGKILL), ctypes.c_ulong(0),
           ctypes.c_ulong(0), ctypes.c_ulong(0))
if os.getppid() != _parent:
    os._exit(3)

_started = []
_keep = []


def fail(message):
    sys.stderr.write("target %s: %s\n" % (os.path.basename(sys.argv[0]), message))
    sys.stderr.flush()
    os._exit(3)


def start(func, *args):
    """Starts a daemon thread running func(started, *args); func sets `started` right before its
    blocking call."""
    started = threading.Event()
    thread = threading.Thread(target=func, args=(started,) + args)
    thread.daemon = True
    _started.append(started)
    thread.start()
    return thread


def wait_parked():
    deadline = time.time() + 20
    for i, started in enumerate(_started):
        if not started.wait(max(0.0, deadline - time.time())):
            fail("thread %d did not start" % i)
    time.sleep(PARK_DELAY)


def write_marker(text):
    tmp = READY_PATH + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, READY_PATH)


NEVER = threading.Event()


def event_inner(started):
    started.set()
    NEVER.wait()


def event_outer(started):
    event_inner(started)


def lock_inner(started, lock):
    started.set()
    lock.acquire()


def lock_outer(started, lock):
    lock_inner(started, lock)


def sleeper(started):
    started.set()
    time.sleep(FOREVER)


def park_workers():
    """Three threads blocked a few calls deep: Event.wait, Lock.acquire, time.sleep."""
    start(event_outer)
    lock = threading.Lock()
    lock.acquire()
    _keep.append(lock)
    start(lock_outer, lock)
    start(sleeper)
