"""Scenario "locks_SCENARIO": threads blocked on locks, with the truth for `--locks` recorded.

Usage: locks_deadlocks.py OUT_DIR SCENARIO, SCENARIO one of
  rlocks           two threads deadlocked on two RLocks (holders recorded by CPython)
  with_locks       two threads deadlocked on two Locks, both taken with `with` (holders inferred)
  cycle3           three threads in a cycle over a Lock, a Lock and an RLock
  condition_queue  one thread in Condition.wait nobody notifies, one in Queue.get on an empty
                   queue: no holder, no deadlock
  acquire_unknown  a Lock taken with acquire() (no trace of the holder) and waited on by another
                   thread: holder unknown
  import_deadlock  two threads importing modules that wait for each other: one holds the import
                   lock of module lkd_a and waits for a Lock the other took with `with`, the other
                   waits for lkd_a's import lock (importlib's _ModuleLock, owner recorded)
  gil_holder       a thread holds the GIL inside a C call while two threads wait for the GIL

Besides the ready marker ("idle") it writes OUT_DIR/expected_locks.json:
  {"scenario": S, "python": "X.Y.Z",
   "threads": [{"thread_id": N, "native_id": N, "name": S}, ...],   every Python thread
   "locks": {"waits": [...], "deadlocks": [[thread_id, ...], ...]}}
where each wait is {"thread_id": N, "object": {"address": N|null, "type": T, "name": S|null},
"holder_thread_id": N|null, "holder": "recorded"|"inferred"|"none"|"unknown"} (the shape of
--format=json, sorted by thread_id; extra keys such as "module" are informative only). "address"
is the object's id(); null for the GIL, which has no Python object. Each deadlock cycle is listed
once, starting from its smallest thread id, following thread -> waited object -> holder.

What the object of each kind of wait is (the convention the reader must follow):
  Lock/RLock acquire() or `with`: the lock (type "lock" / "RLock");
  Condition.wait: the Condition; Queue.get/put: the Queue (the outermost threading/queue frame's
  self), holder "none"; importlib: the _ModuleLock (`self` of _ModuleLock.acquire), holder its
  `owner`, "recorded"; the GIL: type "GIL", holder the GIL's last holder, "recorded".
Names are "module.attr": every lock here is a global of __main__ (this script) or of a helper
module, except the _ModuleLock (name null: only importlib._bootstrap._module_locks refers to it,
through a weak reference).
"""
import ctypes
import json
import os
import sys
import threading
import time

import pd_common as common

try:
    import queue
except ImportError:  # Python 2
    import Queue as queue

SCENARIOS = ("rlocks", "with_locks", "cycle3", "condition_queue", "acquire_unknown",
             "import_deadlock", "gil_holder")

_threads = {}  # name -> {"thread_id", "native_id", "name"}
_threads_lock = threading.Lock()


def native_id():
    get = getattr(threading, "get_native_id", None)
    if get is not None:
        return get()
    return ctypes.CDLL(None).syscall(186)  # SYS_gettid on x86-64


def record_current():
    me = threading.current_thread()
    with _threads_lock:
        _threads[me.name] = {"thread_id": threading.get_ident(), "native_id": native_id(),
                             "name": me.name}
    return threading.get_ident()


def start(name, func, *args):
    """Like pd_common.start, with a thread name; func(started, *args) records its ident, then sets
    `started` right before its blocking call."""
    started = threading.Event()
    thread = threading.Thread(target=func, args=(started,) + args, name=name)
    thread.daemon = True
    common._started.append(started)
    thread.start()
    return thread


def ident(name):
    return _threads[name]["thread_id"]


def wait(thread, obj, type_name, name, holder, kind, **extra):
    entry = {"thread_id": ident(thread),
             "object": {"address": None if obj is None else id(obj), "type": type_name,
                        "name": name},
             "holder_thread_id": None if holder is None else ident(holder),
             "holder": kind}
    entry.update(extra)
    return entry


def cycle(*names):
    ids = [ident(n) for n in names]
    k = ids.index(min(ids))
    return ids[k:] + ids[:k]


def write_expected(waits, deadlocks):
    record_current()  # the main thread
    data = {"scenario": SCENARIO, "python": "%d.%d.%d" % tuple(sys.version_info[:3]),
            "threads": sorted(_threads.values(), key=lambda t: t["thread_id"]),
            "locks": {"waits": sorted(waits, key=lambda w: w["thread_id"]),
                      "deadlocks": sorted(deadlocks)}}
    path = os.path.join(common.OUT_DIR, "expected_locks.json")
    with open(path + ".tmp", "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")
    os.rename(path + ".tmp", path)


# --- the objects waited for: globals of __main__, named "__main__.X" ---------------------------
RLOCK_A = threading.RLock()
RLOCK_B = threading.RLock()
LOCK_A = threading.Lock()
LOCK_B = threading.Lock()
LOCK_C = threading.Lock()
COND = threading.Condition()
QUEUE = queue.Queue()


class Phase(object):
    """Every thread takes its first lock, then all go on together (threading.Barrier is 3.2+ only,
    and a Barrier object would stay behind as one more Condition)."""

    def __init__(self, parties):
        self.parties = parties
        self.count = 0
        self.cond = threading.Condition(threading.Lock())

    def arrive(self):
        with self.cond:
            self.count += 1
            self.cond.notify_all()
            while self.count < self.parties:
                self.cond.wait(20)


# --- rlocks --------------------------------------------------------------------------------------
def rlock_with_then_acquire(started, phase):
    record_current()
    with RLOCK_A:
        phase.arrive()
        started.set()
        RLOCK_B.acquire()


def rlock_acquire_then_acquire(started, phase):
    record_current()
    RLOCK_B.acquire()
    phase.arrive()
    started.set()
    RLOCK_A.acquire()


def scenario_rlocks():
    phase = Phase(2)
    start("rlock-1", rlock_with_then_acquire, phase)
    start("rlock-2", rlock_acquire_then_acquire, phase)
    common.wait_parked()
    return ([wait("rlock-1", RLOCK_B, "RLock", "__main__.RLOCK_B", "rlock-2", "recorded"),
             wait("rlock-2", RLOCK_A, "RLock", "__main__.RLOCK_A", "rlock-1", "recorded")],
            [cycle("rlock-1", "rlock-2")])


# --- with_locks ----------------------------------------------------------------------------------
def with_both(started, phase, first, second):
    record_current()
    with first:
        phase.arrive()
        started.set()
        with second:
            pass


def scenario_with_locks():
    phase = Phase(2)
    start("with-1", with_both, phase, LOCK_A, LOCK_B)
    start("with-2", with_both, phase, LOCK_B, LOCK_A)
    common.wait_parked()
    return ([wait("with-1", LOCK_B, "lock", "__main__.LOCK_B", "with-2", "inferred"),
             wait("with-2", LOCK_A, "lock", "__main__.LOCK_A", "with-1", "inferred")],
            [cycle("with-1", "with-2")])


# --- cycle3 --------------------------------------------------------------------------------------
def cycle_0(started, phase):
    record_current()
    with LOCK_A:
        phase.arrive()
        started.set()
        LOCK_B.acquire()


def cycle_1(started, phase):
    record_current()
    with LOCK_B:
        phase.arrive()
        started.set()
        with RLOCK_A:
            pass


def cycle_2(started, phase):
    record_current()
    RLOCK_A.acquire()
    phase.arrive()
    started.set()
    with LOCK_A:
        pass


def scenario_cycle3():
    phase = Phase(3)
    start("cycle-0", cycle_0, phase)
    start("cycle-1", cycle_1, phase)
    start("cycle-2", cycle_2, phase)
    common.wait_parked()
    return ([wait("cycle-0", LOCK_B, "lock", "__main__.LOCK_B", "cycle-1", "inferred"),
             wait("cycle-1", RLOCK_A, "RLock", "__main__.RLOCK_A", "cycle-2", "recorded"),
             wait("cycle-2", LOCK_A, "lock", "__main__.LOCK_A", "cycle-0", "inferred")],
            [cycle("cycle-0", "cycle-1", "cycle-2")])


# --- condition_queue -----------------------------------------------------------------------------
def condition_waiter(started):
    record_current()
    with COND:
        started.set()
        COND.wait()  # inside: COND's lock is released; the thread holds nothing


def queue_getter(started):
    record_current()
    started.set()
    QUEUE.get()


def scenario_condition_queue():
    start("cond-waiter", condition_waiter)
    start("queue-getter", queue_getter)
    common.wait_parked()
    return ([wait("cond-waiter", COND, "Condition", "__main__.COND", None, "none"),
             wait("queue-getter", QUEUE, "Queue", "__main__.QUEUE", None, "none")],
            [])


# --- acquire_unknown -----------------------------------------------------------------------------
def acquire_and_sleep(started):
    record_current()
    LOCK_C.acquire()
    started.set()
    time.sleep(common.FOREVER)


def acquire_blocked(started, first_done):
    record_current()
    first_done.wait()
    started.set()
    LOCK_C.acquire()


def scenario_acquire_unknown():
    start("owner-sleeps", acquire_and_sleep)
    common.wait_parked()  # LOCK_C is held from here on
    first_done = threading.Event()
    first_done.set()
    start("lock-waiter", acquire_blocked, first_done)
    common.wait_parked()
    return ([wait("lock-waiter", LOCK_C, "lock", "__main__.LOCK_C", None, "unknown")], [])


# --- import_deadlock -----------------------------------------------------------------------------
# lkd_shared holds the Lock and the events; lkd_a and lkd_b are imported by one thread each.
LKD_SHARED = """\
import threading
LOCK = threading.Lock()
A_IMPORTING = threading.Event()   # lkd_a's body runs: its import lock is held
B_HOLDS_LOCK = threading.Event()  # lkd_b's body holds LOCK
A_STARTED = None                  # set by the target: "started" events of pd_common
B_STARTED = None
"""
LKD_A = """\
import lkd_shared
lkd_shared.A_IMPORTING.set()
lkd_shared.B_HOLDS_LOCK.wait(20)
lkd_shared.A_STARTED.set()
with lkd_shared.LOCK:  # held by the thread importing lkd_b
    pass
"""
LKD_B = """\
import lkd_shared
with lkd_shared.LOCK:
    lkd_shared.B_HOLDS_LOCK.set()
    lkd_shared.A_IMPORTING.wait(20)
    lkd_shared.B_STARTED.set()
    import lkd_a  # its import lock is held by the thread importing lkd_a
"""


def import_a(started):
    record_current()
    import lkd_a  # noqa: F401


def import_b(started):
    record_current()
    import lkd_b  # noqa: F401


def module_lock(name):
    import importlib._bootstrap as bootstrap
    ref = bootstrap._module_locks.get(name)
    lock = ref() if ref is not None else None
    if lock is None:
        common.fail("no module lock for %s" % name)
    return lock


def scenario_import_deadlock():
    for name, text in (("lkd_shared", LKD_SHARED), ("lkd_a", LKD_A), ("lkd_b", LKD_B)):
        with open(os.path.join(common.OUT_DIR, name + ".py"), "w") as f:
            f.write(text)
    sys.path.insert(0, common.OUT_DIR)
    import lkd_shared
    a_started, b_started = threading.Event(), threading.Event()
    lkd_shared.A_STARTED, lkd_shared.B_STARTED = a_started, b_started
    common._started.extend([a_started, b_started])
    for name, func in (("import-a", import_a), ("import-b", import_b)):
        thread = threading.Thread(target=func, args=(None,), name=name)
        thread.daemon = True
        thread.start()
    common.wait_parked()
    lock_a = module_lock("lkd_a")
    if lock_a.owner != ident("import-a"):
        common.fail("lkd_a's module lock is owned by %r" % (lock_a.owner,))
    return ([wait("import-a", lkd_shared.LOCK, "lock", "lkd_shared.LOCK", "import-b", "inferred"),
             wait("import-b", lock_a, "_ModuleLock", None, "import-a", "recorded",
                  module="lkd_a")],
            [cycle("import-a", "import-b")])


# --- gil_holder ----------------------------------------------------------------------------------
def spin(started):
    record_current()
    started.set()
    while True:
        pass


def scenario_gil_holder():
    start("gil-waiter-1", spin)
    start("gil-waiter-2", spin)
    holder_go = threading.Event()
    holder_started = threading.Event()

    def hold_gil():
        record_current()
        holder_started.set()
        holder_go.wait()
        time.sleep(common.PARK_DELAY)  # lets the main thread enter its final sleep first
        tmp = common.READY_PATH + ".tmp"
        with open(tmp, "w") as f:
            f.write("idle\n")
        src, dst = os.fsencode(tmp), os.fsencode(common.READY_PATH)
        # PyDLL calls keep the GIL: from the rename on, this thread holds it for good, and both
        # spinners wait for it (take_gil) on the `while True: pass` line.
        common._rename(src, dst); common._sleep(common.FOREVER)  # noqa: E702

    holder = threading.Thread(target=hold_gil, name="gil-holder")
    holder.daemon = True
    holder.start()
    common.wait_parked()
    holder_started.wait(20)
    waits = [wait("gil-waiter-1", None, "GIL", None, "gil-holder", "recorded"),
             wait("gil-waiter-2", None, "GIL", None, "gil-holder", "recorded")]
    write_expected(waits, [])
    holder_go.set()
    time.sleep(common.FOREVER)  # the main thread sleeps: it does not wait for the GIL


def main():
    if SCENARIO not in SCENARIOS:
        common.fail("unknown scenario %r (one of %s)" % (SCENARIO, ", ".join(SCENARIOS)))
    if SCENARIO == "gil_holder":
        scenario_gil_holder()
        return
    waits, deadlocks = globals()["scenario_" + SCENARIO]()
    write_expected(waits, deadlocks)
    common.write_marker("idle\n")
    time.sleep(common.FOREVER)


SCENARIO = common.ARGS[0] if common.ARGS else ""
main()
