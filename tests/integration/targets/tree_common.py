"""Helpers of the process-tree targets (tests/integration/timeout_test.cc): trees of processes
that pystack-dump --timeout and --subprocesses must dump.

Each Python process of a tree calls record_when_parked(OUT_DIR, ROLE) right before its final
blocking call. It writes OUT_DIR/ready-PID (atomically, by rename) holding one line
    ROLE PYTHON_VERSION THREADS
(THREADS: its thread count, which it is back to once faulthandler's watchdog thread has ended),
and has CPython's faulthandler write, DELAY seconds later, the all-threads dump that pystack-dump
must reproduce for it into OUT_DIR/expected-PID.txt: whole, or, with main_thread_only, into
OUT_DIR/main-thread-PID.txt, of which only the last thread (the main thread) is to be compared
(the process has other threads whose stacks change). The first line, "Timeout (...)!", is not
part of the dump.

Every process kills itself after LIFETIME seconds (SIGALRM, default action), so nothing outlives a
test that died. Keep the syntax 3.6-compatible.
"""
import ctypes
import faulthandler
import os
import platform
import signal
import sys

LIFETIME = 40         # seconds before a process kills itself
FOREVER = 3600        # longer than LIFETIME: "blocks until killed"
DELAY = 0.3           # from the call to the faulthandler dump: the caller is parked long before

_keep = []


def guard():
    """Kills this process after LIFETIME seconds (an alarm is not inherited by fork)."""
    signal.alarm(LIFETIME)


def die_with_parent():
    """SIGKILL when the parent exits (not for a process whose parent is meant to go)."""
    libc = ctypes.CDLL(None)
    parent = os.getppid()
    libc.prctl(1, ctypes.c_ulong(signal.SIGKILL), ctypes.c_ulong(0), ctypes.c_ulong(0),
               ctypes.c_ulong(0))  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(3)


def record_when_parked(out_dir, role, main_thread_only=False):
    pid = os.getpid()
    name = ("main-thread-%d.txt" if main_thread_only else "expected-%d.txt") % pid
    dump_file = open(os.path.join(out_dir, name), "w")
    _keep.append(dump_file)
    ready = os.path.join(out_dir, "ready-%d" % pid)
    with open(ready + ".tmp", "w") as f:
        # A debug build (sys.gettotalrefcount) is told apart as "3.14.10d", a free-threaded one
        # (its abiflags) as "3.13.5t", as the tests name them.
        version = (platform.python_version() + ("d" if hasattr(sys, "gettotalrefcount") else "") +
                   ("t" if "t" in getattr(sys, "abiflags", "") else ""))
        f.write("%s %s %d\n" % (role, version, len(os.listdir("/proc/self/task"))))
    os.rename(ready + ".tmp", ready)
    faulthandler.dump_traceback_later(DELAY, file=dump_file)
