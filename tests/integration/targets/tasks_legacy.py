"""Scenario "tasks_legacy": asyncio tasks parked on two running loops, for pystack-dump --tasks.

The main thread runs loop "main" (asyncio.run); a second thread runs loop "worker". Each loop
holds tasks parked on asyncio.Events that are never set: a plain chain of coroutines, tasks in a
gather (with a nested gather), a task awaiting a task, one awaiting a bare Future, one in
asyncio.sleep, named (3.8+) and unnamed tasks, a TaskGroup (3.11+), an eager task (3.12+) and a
pure-Python task (asyncio.tasks._PyTask, kind "py"). A third loop that never runs holds one task
that was never started (its loop has no thread).

Once both loops sit in select() with nothing scheduled, a recorder thread writes the truth to
OUT_DIR/expected_tasks.json (no running loop can change a task while both are blocked), then the
"idle" marker, and exits. The JSON:
  {"version": [3, 12], "release": "3.12.1",
   "registry": name of the asyncio.tasks global(s) holding the tasks,
   "loops": [{"id": "0x..", "label": "main"|"worker"|"idle",
              "thread": {"ident": threading.get_ident(), "tid": OS thread id, "name": ..} or null,
              "current_task": "0x.." or null,
              "tasks": [{"id": "0x..", "name": str or null (3.7), "name_lazy": true when the task
                         holds its name as an int N meaning "Task-N" (3.12+ unnamed tasks; the
                         name is read without get_name(), which would store the str),
                         "kind": "c"|"py", "state": "PENDING",
                         "coro": [{"qualname", "file", "line"}, ...] innermost first, following
                                 cr_await/gi_yieldfrom while it is a coroutine or generator,
                         "awaits": {"type", "id"} of what the innermost one awaits, or null,
                         "fut_waiter": {"type", "id"} or null,
                         "awaited_by": ["0x.." task ids], as python -m asyncio ps (3.14) shows:
                                 the task awaiting it directly, the task awaiting a gather
                                 holding it, the parent task of its TaskGroup}]}]}
Tasks of each loop are sorted by id. Reading cr_frame creates the frame object of a suspended
3.11+ coroutine (not its state). Keep the syntax 3.7-compatible.
"""
import asyncio
import ctypes
import gc
import json
import os
import sys
import threading

import pd_common as common

V = sys.version_info[:2]
HAS_NAMES = V >= (3, 8)
NEVER_SLEEP = 3600  # longer than the target lives

_libc = ctypes.CDLL(None, use_errno=True)
_SYS_gettid = 186  # x86-64


def os_tid():
    if hasattr(threading, "get_native_id"):
        return threading.get_native_id()
    return _libc.syscall(_SYS_gettid)


def make_task(loop, coro, name=None):
    if HAS_NAMES and name is not None:
        return loop.create_task(coro, name=name)
    return loop.create_task(coro)


# --- the coroutines the tasks are parked in -----------------------------------------------------

async def leaf(ev):
    await ev.wait()


async def middle(ev):
    await leaf(ev)


async def outer(ev):
    await middle(ev)


async def gathering(ev):
    loop = asyncio.get_event_loop()
    inner = asyncio.gather(make_task(loop, leaf(ev), "gather-inner-a"), middle(ev))
    await asyncio.gather(make_task(loop, outer(ev), "gather-a"), leaf(ev), inner)


async def awaits_task(ev):
    child = make_task(asyncio.get_event_loop(), middle(ev), "awaited-child")
    await child


async def awaits_task_deep(ev):
    await awaits_task(ev)


async def awaits_future(ev):
    await asyncio.get_event_loop().create_future()


async def sleeper(ev):
    await asyncio.sleep(NEVER_SLEEP)


async def task_group(ev):
    async with asyncio.TaskGroup() as group:
        group.create_task(leaf(ev), name="tg-leaf")
        group.create_task(middle(ev))


async def task_group_outer(ev):
    await task_group(ev)


async def eager_body(ev):
    await middle(ev)


async def never_started():
    await asyncio.sleep(NEVER_SLEEP)


# --- the loops ---------------------------------------------------------------------------------

LOOPS = []          # (label, loop, thread info)
_parked = []        # threading.Events, one per running loop
_keep_all = common.keep([])


async def run_loop(label, parked):
    loop = asyncio.get_event_loop()
    ev = asyncio.Event()
    tasks = _keep_all
    tasks.append(make_task(loop, outer(ev), "%s-chain" % label))
    tasks.append(make_task(loop, leaf(ev)))                       # unnamed
    tasks.append(make_task(loop, gathering(ev), "%s-gather" % label))
    tasks.append(make_task(loop, awaits_task_deep(ev), "%s-awaits-task" % label))
    tasks.append(make_task(loop, awaits_future(ev)))              # unnamed
    tasks.append(make_task(loop, sleeper(ev), "%s-sleeper" % label))
    if V >= (3, 11):
        tasks.append(make_task(loop, task_group_outer(ev), "%s-taskgroup" % label))
    elif label == "main":
        common.skip_feature("TaskGroup")
    if not HAS_NAMES and label == "main":
        common.skip_feature("task names")
    # A pure-Python task (the fallback class asyncio uses without _asyncio).
    if HAS_NAMES:
        py_task = asyncio.tasks._PyTask(middle(ev), loop=loop, name="%s-pytask" % label)
    else:
        py_task = asyncio.tasks._PyTask(middle(ev), loop=loop)
    tasks.append(py_task)
    if label == "worker":
        if V >= (3, 12):
            # Eager: the first step runs inside create_task and parks; the task then lives with the
            # scheduled ones.
            loop.set_task_factory(asyncio.eager_task_factory)
            tasks.append(loop.create_task(eager_body(ev), name="worker-eager"))
            loop.set_task_factory(None)
        else:
            common.skip_feature("eager tasks")
    for _ in range(20):  # every task runs up to its Event
        await asyncio.sleep(0)
    LOOPS.append((label, loop, {"ident": threading.get_ident(), "tid": os_tid(),
                                "name": threading.current_thread().name}))
    loop.call_soon(parked.set)  # runs once this task is parked below
    await ev.wait()


def worker_thread(parked):
    asyncio.run(run_loop("worker", parked))


# --- the truth -----------------------------------------------------------------------------------

def hexid(obj):
    return "0x%x" % id(obj)


def obj_ref(obj):
    if obj is None:
        return None
    return {"type": type(obj).__name__, "id": hexid(obj)}


def awaited(c):
    if hasattr(c, "cr_await"):
        return c.cr_await
    return getattr(c, "gi_yieldfrom", None)


def frame_of(c):
    if hasattr(c, "cr_frame"):
        return c.cr_frame
    return getattr(c, "gi_frame", None)


def is_coro_like(obj):
    return hasattr(obj, "cr_frame") or (hasattr(obj, "gi_frame") and hasattr(obj, "gi_code"))


def coro_chain(coro):
    chain = []
    c = coro
    last_awaits = None
    while c is not None and is_coro_like(c):
        frame = frame_of(c)
        code = c.cr_code if hasattr(c, "cr_code") else c.gi_code
        chain.append({"qualname": c.__qualname__, "file": code.co_filename,
                      "line": frame.f_lineno if frame is not None else None})
        nxt = awaited(c)
        if nxt is not None and not is_coro_like(nxt):
            last_awaits = nxt
        c = nxt
    chain.reverse()
    return chain, obj_ref(last_awaits)


def task_coro(task):
    if isinstance(task, asyncio.tasks._PyTask):
        return task._coro
    return task.get_coro() if HAS_NAMES else task._coro


def task_name(task):
    """The name without get_name(), which replaces a lazy int name by a str in 3.12+."""
    if not HAS_NAMES:
        return None, False
    if isinstance(task, asyncio.tasks._PyTask):
        return task._name, False
    refs = [r for r in gc.get_referents(task)
            if type(r) is str or type(r) is int]
    if len(refs) != 1:
        common.fail("cannot tell the name of %r among %r" % (task, refs))
    if type(refs[0]) is int:
        return "Task-%d" % refs[0], True
    return refs[0], False


def gathered_children(fut):
    out = []
    for child in getattr(fut, "_children", ()):
        if isinstance(child, asyncio.Task):
            out.append(child)
        elif type(child).__name__ == "_GatheringFuture":
            out.extend(gathered_children(child))
    return out


def awaiters(all_tasks):
    by = {}
    for task in all_tasks:
        waiter = task._fut_waiter
        if isinstance(waiter, asyncio.Task):
            by.setdefault(id(waiter), []).append(task)
        elif type(waiter).__name__ == "_GatheringFuture":
            for child in gathered_children(waiter):
                by.setdefault(id(child), []).append(task)
        for callback, _ctx in (task._callbacks or ()):
            group = getattr(callback, "__self__", None)
            if type(group).__name__ == "TaskGroup" and getattr(group, "_parent_task", None):
                by.setdefault(id(task), []).append(group._parent_task)
    return by


def registry_names():
    names = []
    tasks_module = sys.modules["asyncio.tasks"].__dict__
    for name in ("_all_tasks", "_scheduled_tasks", "_eager_tasks"):
        if name in tasks_module:
            names.append(name)
    return names


def record():
    order = {"main": 0, "worker": 1}
    loops = sorted(LOOPS, key=lambda entry: order[entry[0]]) + [("idle", IDLE_LOOP, None)]
    everything = []
    for _label, loop, _thread in loops:
        everything.extend(asyncio.all_tasks(loop))
    by = awaiters(everything)
    current = sys.modules["asyncio.tasks"].__dict__.get("_current_tasks", {})
    out_loops = []
    for label, loop, thread in loops:
        tasks = []
        for task in sorted(asyncio.all_tasks(loop), key=id):
            name, lazy = task_name(task)
            chain, last = coro_chain(task_coro(task))
            tasks.append({
                "id": hexid(task), "name": name, "name_lazy": lazy,
                "kind": "py" if isinstance(task, asyncio.tasks._PyTask) else "c",
                "state": task._state, "coro": chain, "awaits": last,
                "fut_waiter": obj_ref(task._fut_waiter),
                "awaited_by": sorted(hexid(t) for t in by.get(id(task), [])),
            })
        cur = current.get(loop)
        out_loops.append({"id": hexid(loop), "label": label, "thread": thread,
                          "current_task": hexid(cur) if cur is not None else None,
                          "tasks": tasks})
    truth = {"version": list(V), "release": sys.version.split()[0],
             "registry": registry_names(), "loops": out_loops}
    path = os.path.join(common.OUT_DIR, "expected_tasks.json")
    with open(path + ".tmp", "w") as f:
        json.dump(truth, f, indent=1, sort_keys=True)
    os.rename(path + ".tmp", path)


def recorder():
    for parked in _parked:
        if not parked.wait(20):
            common.fail("a loop did not park")
    common.wait_parked()  # PARK_DELAY: both loops reach select()
    record()
    common.write_marker("idle\n")


IDLE_LOOP = asyncio.new_event_loop()  # never runs: its task never starts, its loop has no thread


async def main():
    main_parked = threading.Event()
    worker_parked = threading.Event()
    _parked.extend([main_parked, worker_parked])
    _keep_all.append(make_task(IDLE_LOOP, never_started(), "idle-never-started"))
    worker = threading.Thread(target=worker_thread, args=(worker_parked,), name="worker-loop")
    worker.daemon = True
    worker.start()
    rec = threading.Thread(target=recorder, name="recorder")
    rec.daemon = True
    rec.start()
    await run_loop("main", main_parked)


asyncio.run(main())
