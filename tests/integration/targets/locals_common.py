"""Helpers of the --locals targets (tests/integration/targets/locals_*.py).

Every target runs as   python -B TARGET.py OUT_DIR
and works under 2.7 and 3.6+ (keep the syntax of both, and the source ASCII). It starts threads
with start(), each of which ends in park() (time.sleep in C, no local variables of its own), and
parks its main thread with park() too. A reporter thread then records, for every parked thread,
what CPython itself prints for the frames of interest with their locals, writes
OUT_DIR/expected.txt and then OUT_DIR/ready ("sync"), and exits. expected.txt holds, per
thread:
    thread IDENT NBYTES NAME\\n      IDENT: threading.get_ident() in decimal; NAME: Thread.name
    TEXT                            NBYTES bytes of UTF-8
where TEXT is, for 3.x, traceback.StackSummary.extract() with capture_locals=True of the
thread's frames from the thread's function (the main thread: from the module) to park(), oldest
first (the order traceback.format_stack() prints), .format()ted; for 2.7, which lacks that API,
the same format built here from linecache and repr() of each f_locals item, sorted by name.
"""
import ctypes
import linecache
import os
import signal
import sys
import threading
import time
import traceback

LIFETIME = 60   # seconds before the process kills itself (SIGALRM, default action)
FOREVER = 3600
PARK_DELAY = 0.3

OUT_DIR = sys.argv[1]
EXPECTED_PATH = os.path.join(OUT_DIR, "expected.txt")
READY_PATH = os.path.join(OUT_DIR, "ready")

signal.alarm(LIFETIME)

_libc = ctypes.CDLL(None)
# Under Yama ptrace_scope 1 only ancestors may trace us: allow any tracer. Die with the harness.
_libc.prctl(0x59616D61, ctypes.c_ulong(-1), ctypes.c_ulong(0), ctypes.c_ulong(0),
            ctypes.c_ulong(0))
_parent = os.getppid()
_libc.prctl(1, ctypes.c_ulong(signal.SIGKILL), ctypes.c_ulong(0), ctypes.c_ulong(0),
            ctypes.c_ulong(0))
if os.getppid() != _parent:
    os._exit(3)

try:
    _get_ident = threading.get_ident
except AttributeError:  # 2.7
    import thread as _thread_module
    _get_ident = _thread_module.get_ident

_guard = threading.Lock()
_arrived = []   # idents of the threads in park()
_recorded = []  # (thread or None for the main thread, code object of the outermost frame shown)


def fail(message):
    sys.stderr.write("target %s: %s\n" % (os.path.basename(sys.argv[0]), message))
    sys.stderr.flush()
    os._exit(3)


def _arrive():
    _guard.acquire()
    _arrived.append(_get_ident())
    _guard.release()


def park():
    """Blocks the calling thread for good, in C. This frame has no locals."""
    _arrive()
    time.sleep(FOREVER)


def start(func, *args):
    """Starts a daemon thread named after func running func(*args); its frames from func's on
    are recorded."""
    thread = threading.Thread(target=func, args=args, name="locals-" + func.__name__)
    thread.daemon = True
    _recorded.append((thread, func.__code__))
    thread.start()
    return thread


def _frames(frame, stop_code):
    frames = []
    while frame is not None:
        frames.append(frame)
        if frame.f_code is stop_code:
            break
        frame = frame.f_back
    frames.reverse()
    return frames


def _expected_text(frames):
    if hasattr(traceback, "StackSummary"):
        summary = traceback.StackSummary.extract(((f, f.f_lineno) for f in frames),
                                                 capture_locals=True)
        return "".join(summary.format())
    out = []
    for f in frames:
        code = f.f_code
        out.append('  File "%s", line %d, in %s\n' % (code.co_filename, f.f_lineno, code.co_name))
        linecache.checkcache(code.co_filename)
        line = linecache.getline(code.co_filename, f.f_lineno, f.f_globals)
        if line:
            out.append("    %s\n" % line.strip())
        for name, value in sorted(f.f_locals.items()):
            out.append("    %s = %s\n" % (name, repr(value)))
    return "".join(out)


def _report(main_ident):
    deadline = time.time() + 20
    while True:
        _guard.acquire()
        count = len(_arrived)
        _guard.release()
        if count == len(_recorded) + 1:
            break
        if time.time() > deadline:
            fail("only %d of %d threads parked" % (count, len(_recorded) + 1))
        time.sleep(0.01)
    time.sleep(PARK_DELAY)
    current = sys._current_frames()
    records = []
    for thread, stop_code in [(None, None)] + _recorded:
        ident = main_ident if thread is None else thread.ident
        name = "MainThread" if thread is None else thread.name
        text = _expected_text(_frames(current[ident], stop_code))
        data = text if isinstance(text, bytes) else text.encode("utf-8", "backslashreplace")
        records.append(("thread %d %d %s\n" % (ident, len(data), name)).encode("ascii") + data)
    tmp = EXPECTED_PATH + ".tmp"
    with open(tmp, "wb") as f:
        f.write(b"".join(records))
    os.rename(tmp, EXPECTED_PATH)
    with open(READY_PATH + ".tmp", "w") as f:
        f.write("sync\n")
    os.rename(READY_PATH + ".tmp", READY_PATH)


def report_when_parked():
    """Starts the reporter; the main thread is expected to call park() next."""
    reporter = threading.Thread(target=_report, args=(_get_ident(),), name="reporter")
    reporter.daemon = True
    reporter.start()
