"""Checks pystack-dump's --tasks --format=json output (a real JSON reader: this interpreter's
json module) against the table of `python -m asyncio ps` of the same process.

    python tasks_json_check.py OURS.json PS.txt [MAIN_THREAD_ONLY]

Every row of the table must be a task of the JSON with the same id, name, thread and awaiter;
each coroutine frame must carry a file and a line; with MAIN_THREAD_ONLY (3.14, whose tool lists
the main thread's tasks only) the JSON must hold more tasks than the table: the second loop's.
Prints what is wrong and exits 1, or exits 0.
"""
import json
import sys

ours = json.load(open(sys.argv[1], encoding="utf-8"))
table = open(sys.argv[2], encoding="utf-8").read().splitlines()[2:]
main_thread_only = len(sys.argv) > 3
problems = []

tasks = {}
for interpreter in ours["interpreters"]:
    for task in interpreter.get("tasks", []):
        tasks[task["id"]] = task
        for frame in task["coroutine_stack"]:
            if not frame["filename"] or not isinstance(frame["line"], int) or frame["line"] < 1:
                problems.append("task %s: frame without file or line: %r" % (task["name"], frame))

rows = 0
for line in table:
    tid, task_id = line[:10].strip(), int(line[11:31].strip(), 16)
    name = line[32:].split("  ")[0]
    awaiter = line.rstrip().rsplit(" ", 1)[-1]
    rows += 1
    task = tasks.get(task_id)
    if task is None:
        problems.append("table row not in the JSON: %r" % line)
        continue
    if not line[32:].startswith(task["name"][:255]):  # the tools read 255 code points
        problems.append("name %r differs from the table's row %r" % (task["name"], line))
    if int(tid) != (task["thread"] or 0):
        problems.append("thread %r differs from the table's row %r" % (task["thread"], line))
    if awaiter != "0x0" and int(awaiter, 16) not in task["awaited_by"]:
        problems.append("awaiter %s missing from %r" % (awaiter, task["awaited_by"]))

if rows < 5:
    problems.append("the table has only %d rows" % rows)
if not any(t["name"] == "second-thread" for t in tasks.values()):
    problems.append("the second loop's task is not in the JSON")
for problem in problems:
    print(problem)
sys.exit(1 if problems else 0)
