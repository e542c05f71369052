"""Helpers shared by pystack-dump's integration targets (tests/integration/targets/).

Every target runs as   python -B TARGET.py OUT_DIR [ARGS...]
It parks threads in known blocked states, has CPython's faulthandler write the all-threads dump
that pystack-dump must reproduce into OUT_DIR/expected.txt, then writes OUT_DIR/ready (atomically,
by rename) holding one line:
  "watchdog N"  expected.txt comes from faulthandler.dump_traceback_later(), which marks no thread
                as current. It is complete once it is non-empty and the process has N threads
                again (the watchdog thread exits right after writing). Its first line,
                "Timeout (0:00:00.500000)!", is not part of the dump.
  "sync"        expected.txt was written by faulthandler.dump_traceback() (the calling thread is
                the "Current thread" and keeps the GIL) before the marker: it is complete.
  "idle"        no dump: the target is parked (and may echo its stdin).
Parts of a scenario that the interpreter is too old for are listed in OUT_DIR/skipped
(skip_feature), written before the marker.
Every target kills itself after LIFETIME seconds (SIGALRM, default action, no extra thread), so
nothing outlives a harness that died. Keep the syntax 3.6-compatible.
"""
import ctypes
import faulthandler
import os
import signal
import sys
import threading
import time

LIFETIME = 60         # seconds before the process kills itself
FOREVER = 3600        # longer than LIFETIME: "blocks until killed"
PARK_DELAY = 0.3      # after the last worker said "started", lets every worker enter its call
WATCHDOG_DELAY = 0.5  # the main thread is parked in its final call long before this

if len(sys.argv) < 2:
    sys.stderr.write("usage: %s OUT_DIR [ARGS...]\n" % sys.argv[0])
    sys.exit(2)
OUT_DIR = sys.argv[1]
ARGS = sys.argv[2:]
DUMP_PATH = os.path.join(OUT_DIR, "expected.txt")
READY_PATH = os.path.join(OUT_DIR, "ready")

signal.alarm(LIFETIME)

_started = []
_keep = []  # objects (files, sockets) that must stay alive as long as the process


def fail(message):
    sys.stderr.write("target %s: %s\n" % (os.path.basename(sys.argv[0]), message))
    sys.stderr.flush()
    os._exit(3)


def skip_feature(what):
    """Records a part of the scenario this interpreter cannot run (OUT_DIR/skipped, one per line,
    read with the ready marker): the harness reports it instead of passing over it silently."""
    with open(os.path.join(OUT_DIR, "skipped"), "a") as f:
        f.write("%s (Python %d.%d)\n" % (what, sys.version_info[0], sys.version_info[1]))


def keep(obj):
    _keep.append(obj)
    return obj


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
    """Waits until every thread from start() said "started", then a little more so that each has
    entered its blocking call."""
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


def finish_with_watchdog():
    """Main thread: parks, lets faulthandler's watchdog write the dump and blocks for good."""
    wait_parked()
    dump_file = keep(open(DUMP_PATH, "w"))
    write_marker("watchdog %d\n" % len(os.listdir("/proc/self/task")))
    faulthandler.dump_traceback_later(WATCHDOG_DELAY, file=dump_file)
    time.sleep(FOREVER)


def finish_idle():
    wait_parked()
    write_marker("idle\n")
    time.sleep(FOREVER)


_libc = ctypes.PyDLL(None)  # PyDLL: calls keep the GIL

# Under Yama ptrace_scope 1 only ancestors may trace us, and pystack-dump is the harness's other
# child: allow any tracer (fails harmlessly without Yama).
_PR_SET_PTRACER, _PR_SET_PTRACER_ANY = 0x59616D61, ctypes.c_ulong(-1)
_libc.prctl(_PR_SET_PTRACER, _PR_SET_PTRACER_ANY, ctypes.c_ulong(0), ctypes.c_ulong(0),
            ctypes.c_ulong(0))
# Die with the harness (SIGKILL when the parent goes), not only after LIFETIME.
_PR_SET_PDEATHSIG = 1
_parent = os.getppid()
_libc.prctl(_PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGKILL), ctypes.c_ulong(0),
            ctypes.c_ulong(0), ctypes.c_ulong(0))
if os.getppid() != _parent:
    os._exit(3)
_rename = _libc.rename
_rename.argtypes = (ctypes.c_char_p, ctypes.c_char_p)
_rename.restype = ctypes.c_int
_sleep = _libc.sleep
_sleep.argtypes = (ctypes.c_uint,)
_sleep.restype = ctypes.c_uint


def dump_holding_gil():
    """Writes the all-threads dump from this thread (marked "Current thread"), then the marker,
    then sleeps in C holding the GIL. The last line runs with the GIL held from the dump on (PyDLL
    calls keep it), so whenever pystack-dump stops the process after the marker appeared, this
    thread is on that same line and holds the GIL. Other threads must be parked already."""
    dump_file = keep(open(DUMP_PATH, "w"))
    tmp = READY_PATH + ".tmp"
    with open(tmp, "w") as f:
        f.write("sync\n")
    src, dst = os.fsencode(tmp), os.fsencode(READY_PATH)
    faulthandler.dump_traceback(dump_file, all_threads=True); dump_file.flush(); _rename(src, dst); _sleep(FOREVER)  # noqa: E702,E501
