"""Scenario "tasks": asyncio tasks parked in known shapes, for --tasks (3.14+ compared with the
same interpreter's `python -m asyncio ps` and `pstree`).

The main thread's loop runs: a TaskGroup with a named and an unnamed child, a gather of two
coroutines, a chain of tasks each awaiting the next, a task with a name wider than the table's
column and one longer than the 255 code points the tools read, a name not in ASCII (3.15+), a
task awaiting a plain Future; a second thread runs a loop of its own with two tasks.
With the argument "cycle", two more tasks await each other (pstree then prints the cycle); with
"abort", the process aborts once parked (see ABORT).
Every task ends up waiting on an Event that is never set. Writes the "idle" marker when all
are parked.
"""
import asyncio
import os
import subprocess
import sys
import threading

import pd_common as common

CYCLE = "cycle" in common.ARGS
# "abort": once all are parked, the running task has this interpreter's `python -m asyncio ps`
# read the process into OUT_DIR/ps.txt, then aborts it (a crash core of that state; the task
# runs the same function in both, and the table shows function names only).
ABORT = "abort" in common.ARGS


async def leaf(event):
    await event.wait()


async def middle(event):
    await leaf(event)


async def worker(event):
    await middle(event)


async def group_body(event):
    async with asyncio.TaskGroup() as group:
        group.create_task(worker(event), name="group-child")
        group.create_task(worker(event))


async def gather_body(event):
    await asyncio.gather(worker(event), leaf(event))


async def chain(event, depth):
    if depth == 0:
        await worker(event)
        return
    await asyncio.create_task(chain(event, depth - 1), name="chain-%d" % (depth - 1))


async def await_future(future):
    await future


async def await_other(tasks, other):
    await asyncio.sleep(0.05)
    await tasks[other]


async def main_loop(ready):
    event = asyncio.Event()
    common.keep(event)
    children = [
        asyncio.create_task(group_body(event), name="taskgroup"),
        asyncio.create_task(gather_body(event)),
        asyncio.create_task(chain(event, 3), name="chain-3"),
        asyncio.create_task(worker(event), name="a task name wider than twenty columns"),
        asyncio.create_task(leaf(event), name="long-" + "x" * 295),  # the tools show 255

        asyncio.create_task(await_future(asyncio.get_running_loop().create_future()),
                            name="on-a-future"),
    ]
    if sys.version_info >= (3, 15):  # 3.14's tool prints NUL bytes for a name not in ASCII
        children.append(asyncio.create_task(leaf(event), name="tâche-été-任务"))
    if CYCLE:
        pair = {}
        pair["a"] = asyncio.create_task(await_other(pair, "b"), name="cycle-a")
        pair["b"] = asyncio.create_task(await_other(pair, "a"), name="cycle-b")
    await ready.wait()
    await asyncio.sleep(0.3)  # every task has reached its await
    if ABORT:
        crash_after_ps()
    common.write_marker("idle\n")
    await asyncio.gather(*children)


def crash_after_ps():
    with open(os.path.join(common.OUT_DIR, "ps.txt"), "w") as out:
        subprocess.run([sys.executable, "-m", "asyncio", "ps", str(os.getpid())], stdout=out,
                       check=True)
    os.abort()


def second_loop(started):
    async def second_main():
        event = asyncio.Event()
        task = asyncio.create_task(worker(event), name="second-thread")
        asyncio.get_running_loop().call_soon(started.set)
        await task
    asyncio.run(second_main())


class Ready:
    """Set from the second thread once its loop runs; waited for by the main loop."""
    def __init__(self, started):
        self.started = started

    async def wait(self):
        while not self.started.is_set():
            await asyncio.sleep(0.01)


started = threading.Event()
thread = threading.Thread(target=second_loop, args=(started,), name="second-loop", daemon=True)
thread.start()
asyncio.run(main_loop(Ready(started)))
