"""Helpers shared by the Python 2.7 targets (tests/integration/targets/py2_*.py).

Python 2.7 has no faulthandler, so these targets build the expected dump themselves, from their own
view of their frames, in the format CPython 3.6's faulthandler prints (the format pystack-dump uses
for 2.7):

- threads in the interpreter's thread list order: newest thread state first, the main thread last.
  A thread state is put at the head of that list when it is made, and 2.7 makes it in the thread
  that calls thread.start_new_thread (_PyThreadState_Prealloc), before the new thread runs. Every
  thread here is started by the main thread through start() or start_raw(), which record its ident
  in that order; nothing here reads the process's memory;
- per thread: "Thread 0x%016x (most recent call first):" ("Current thread" for the one holding
  the GIL in the "sync" mode), then at most 100 frames "  File \"F\", line N in NAME" from
  sys._current_frames() (f_code.co_filename, f_lineno, f_code.co_name), "  ..." if more; a thread
  without a Python frame shows its header only (3.6);
- a blank line between threads; past 100 threads "..." and nothing more;
- strings: at most 500 code points then "...", 0x20-0x7e as is, others as \\xNN, \\uNNNN or
  \\UNNNNNNNN. A 2.7 str is bytes: each byte is one code point.

Same contract with the harness as pd_common.py (OUT_DIR/expected.txt, OUT_DIR/ready holding
"watchdog N" or "sync"). In "watchdog" mode a reporter thread plays faulthandler's watchdog: it
waits until the main thread is parked, writes "Timeout (0:00:00.500000)!" and the dump of every
other thread, and exits (its thread state leaves the list with it).

The targets also run under Python 3 (for the self-check: with PD_SELFCHECK=1 the dump is written
by this module AND by faulthandler, to compare the two). Keep the syntax 2.7- and 3.6-compatible.
"""
import ctypes
import os
import signal
import sys
import threading
import time

try:
    import thread as _thread  # Python 2
except ImportError:  # Python 3, for the self-check
    import _thread

LIFETIME = 60
FOREVER = 3600
PARK_DELAY = 0.3
WATCHDOG_DELAY = 0.5
MAX_FRAME_DEPTH = 100
MAX_NTHREADS = 100
MAX_STRING_LENGTH = 500
SELFCHECK = os.environ.get("PD_SELFCHECK") == "1"

if len(sys.argv) < 2:
    sys.stderr.write("usage: %s OUT_DIR [ARGS...]\n" % sys.argv[0])
    sys.exit(2)
OUT_DIR = sys.argv[1]
ARGS = sys.argv[2:]
DUMP_PATH = os.path.join(OUT_DIR, "expected.txt")
READY_PATH = os.path.join(OUT_DIR, "ready")
FAULTHANDLER_PATH = os.path.join(OUT_DIR, "faulthandler.txt")  # the self-check's reference

signal.alarm(LIFETIME)

_started = []
_keep = []
# Thread idents in creation order, the main thread first.
_created = [_thread.get_ident()]


def fail(message):
    sys.stderr.write("target %s: %s\n" % (os.path.basename(sys.argv[0]), message))
    sys.stderr.flush()
    os._exit(3)


def keep(obj):
    _keep.append(obj)
    return obj


def start(func, *args):
    """Starts a daemon thread running func(started, *args); func sets `started` right before its
    blocking call. threading.Thread.start() returns once the thread runs, with its ident."""
    started = threading.Event()
    thread = threading.Thread(target=func, args=(started,) + args)
    thread.daemon = True
    _started.append(started)
    thread.start()
    _created.append(thread.ident)
    return thread


def start_raw(func, args):
    """thread.start_new_thread(func, args), recorded like start() (for a thread running a C
    function: it has a thread state but no Python frame)."""
    _created.append(_thread.start_new_thread(func, args))


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


# --- the 3.6 faulthandler format ----------------------------------------------------------------
def code_points(text):
    if isinstance(text, bytes):  # 2.7 str
        return bytearray(text)
    return [ord(c) for c in text]


def dump_ascii(text):
    """_Py_DumpASCII, on code points (a 2.7 str: its bytes)."""
    points = code_points(text)
    out = []
    for ch in points[:MAX_STRING_LENGTH]:
        if 0x20 <= ch <= 0x7E:
            out.append(chr(ch))
        elif ch <= 0xFF:
            out.append("\\x%02x" % ch)
        elif ch <= 0xFFFF:
            out.append("\\u%04x" % ch)
        else:
            out.append("\\U%08x" % ch)
    if len(points) > MAX_STRING_LENGTH:
        out.append("...")
    return "".join(out)


def is_text(value):
    return isinstance(value, str)  # 2.7: str (bytes; unicode cannot be a code name); 3: str


def dump_frame(frame):
    code = frame.f_code
    filename = '"%s"' % dump_ascii(code.co_filename) if is_text(code.co_filename) else "???"
    lineno = frame.f_lineno
    name = dump_ascii(code.co_name) if is_text(code.co_name) else "???"
    return "  File %s, line %s in %s\n" % (filename, lineno if lineno >= 0 else "???", name)


def dump_thread(ident, frame, current):
    lines = ["%s 0x%016x (most recent call first):\n"
             % ("Current thread" if current else "Thread", ident & 0xFFFFFFFFFFFFFFFF)]
    depth = 0
    while frame is not None:
        if depth >= MAX_FRAME_DEPTH:
            lines.append("  ...\n")
            break
        lines.append(dump_frame(frame))
        frame = frame.f_back
        depth += 1
    return "".join(lines)


def dump_all(frames, current=None, exclude=None):
    """The all-threads dump: `frames` from sys._current_frames(), threads newest first."""
    blocks = []
    for ident in reversed(_created):
        if ident == exclude:
            continue
        if len(blocks) >= MAX_NTHREADS:
            blocks.append("...\n")
            break
        blocks.append(dump_thread(ident, frames.get(ident), ident == current))
    return "\n".join(blocks)


# --- the two ways to finish -------------------------------------------------------------------
def _report():
    time.sleep(WATCHDOG_DELAY)
    me = _thread.get_ident()
    text = "Timeout (0:00:00.500000)!\n" + dump_all(sys._current_frames(), exclude=me)
    with open(DUMP_PATH, "w") as f:
        f.write(text)
    if SELFCHECK:
        import faulthandler
        with open(FAULTHANDLER_PATH, "w") as f:
            faulthandler.dump_traceback(f, all_threads=True)


def finish_with_watchdog():
    """Main thread: parks; a short-lived reporter thread writes the dump and exits."""
    wait_parked()
    write_marker("watchdog %d\n" % len(os.listdir("/proc/self/task")))
    _created.append(_thread.start_new_thread(_report, ()))
    time.sleep(FOREVER)


_libc = ctypes.PyDLL(None)  # PyDLL: calls keep the GIL
_PR_SET_PTRACER, _PR_SET_PTRACER_ANY = 0x59616D61, ctypes.c_ulong(-1)
_libc.prctl(_PR_SET_PTRACER, _PR_SET_PTRACER_ANY, ctypes.c_ulong(0), ctypes.c_ulong(0),
            ctypes.c_ulong(0))
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
    """Like pd_common.dump_holding_gil: this thread is the "Current thread". The dump is built
    from sys._current_frames() called on the same line as the C sleep that keeps the GIL, so this
    frame's line is the same in the dump and when pystack-dump looks."""
    dump_file = keep(open(DUMP_PATH, "w"))
    tmp = READY_PATH + ".tmp"
    with open(tmp, "w") as f:
        f.write("sync\n")
    src, dst = tmp.encode(), READY_PATH.encode()
    me = _thread.get_ident()
    dump_file.write(dump_all(sys._current_frames(), current=me)); dump_file.flush(); _rename(src, dst); _sleep(FOREVER)  # noqa: E702,E501
