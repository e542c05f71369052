"""Helpers for the traceback-format targets (tests/integration/targets/tb_*.py), for Python 2.7
and 3.6+ alike (no f-strings, no 3-only syntax).

A target runs as   python -B TARGET.py OUT_DIR [ARGS...]
It parks threads, then a recorder thread writes OUT_DIR/stacks.txt: for every thread but itself,
the text of traceback.format_stack() of its frame from sys._current_frames(), as records
    THREAD <ident> <native tid> <ok|error> <byte length>\\n<bytes>\\n
(Python 3 text encoded as UTF-8 with errors='backslashreplace', as print() to such a stream
would write it; Python 2 str bytes as they are). Then it writes OUT_DIR/ready ("idle", by rename,
as tests/integration/harness.h expects) and parks too: its own stack is not recorded, since it
moved after recording. Every target kills itself after LIFETIME seconds (SIGALRM) and when its
parent dies (PR_SET_PDEATHSIG).
"""
import ctypes
import os
import signal
import sys
import threading
import time
import traceback

LIFETIME = 60
FOREVER = 3600
PARK_DELAY = 0.3  # after the last thread said "started", lets each enter its blocking call

if len(sys.argv) < 2:
    sys.stderr.write("usage: %s OUT_DIR [ARGS...]\n" % sys.argv[0])
    sys.exit(2)
OUT_DIR = os.path.abspath(sys.argv[1])
PY2 = sys.version_info[0] == 2

signal.alarm(LIFETIME)

_libc = ctypes.CDLL(None)
# Under Yama ptrace_scope 1 only ancestors may trace us: allow any tracer (harmless without Yama).
_libc.prctl(0x59616D61, ctypes.c_ulong(-1), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0))
_parent = os.getppid()
_libc.prctl(1, ctypes.c_ulong(signal.SIGKILL), ctypes.c_ulong(0), ctypes.c_ulong(0),
            ctypes.c_ulong(0))  # PR_SET_PDEATHSIG
if os.getppid() != _parent:
    os._exit(3)

NEVER = threading.Event()
_started = []
_native_ids = {}  # thread ident -> OS thread id
_SYS_GETTID = 186  # x86-64


def fail(message):
    sys.stderr.write("target %s: %s\n" % (os.path.basename(sys.argv[0]), message))
    sys.stderr.flush()
    os._exit(3)


def _ident():
    return threading.current_thread().ident


def note_native_id():
    _native_ids[_ident()] = _libc.syscall(_SYS_GETTID)


def new_started():
    started = threading.Event()
    _started.append(started)
    return started


def start(name, func, *args):
    """Runs func(started, *args) in a daemon thread; func sets `started` right before it
    blocks."""
    started = new_started()

    def run():
        note_native_id()
        func(started, *args)

    thread = threading.Thread(target=run, name=name)
    thread.daemon = True
    thread.start()
    return thread


def _as_bytes(text):
    if PY2:
        return text.encode("utf-8") if isinstance(text, unicode) else text  # noqa: F821
    return text.encode("utf-8", "backslashreplace")


def _record(path):
    frames = sys._current_frames()
    me = _ident()
    chunks = []
    for ident in sorted(frames):
        if ident == me:
            continue
        try:
            text = "".join(traceback.format_stack(frames[ident]))
            status = "ok"
        except Exception as e:  # 3.6-3.9 raise for files linecache cannot decode
            text = "%s: %s" % (type(e).__name__, e)
            status = "error"
        data = _as_bytes(text)
        header = "THREAD %d %d %s %d\n" % (ident, _native_ids.get(ident, 0), status, len(data))
        chunks.append(header.encode("ascii") + data + b"\n")
    del frames
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(b"".join(chunks))
    os.rename(tmp, path)


def _write_marker(text):
    ready = os.path.join(OUT_DIR, "ready")
    with open(ready + ".tmp", "w") as f:
        f.write(text)
    os.rename(ready + ".tmp", ready)


def _recorder():
    deadline = time.time() + 20
    for i, started in enumerate(list(_started)):
        if not started.wait(max(0.0, deadline - time.time())):
            fail("thread %d did not start" % i)
    time.sleep(PARK_DELAY)
    _record(os.path.join(OUT_DIR, "stacks.txt"))
    _write_marker("idle\n")
    NEVER.wait()


def finish():
    """Main thread: starts the recorder, then parks for good (its stack is recorded)."""
    note_native_id()
    main_parked = new_started()
    recorder = threading.Thread(target=_recorder, name="tb-recorder")
    recorder.daemon = True
    recorder.start()
    main_parked.set()
    NEVER.wait()
