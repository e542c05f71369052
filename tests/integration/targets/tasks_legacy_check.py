"""Checks pystack-dump's --tasks --format=json output against the truth tasks_legacy.py recorded
inside the process (OUT_DIR/expected_tasks.json), with this interpreter's json module.

    python tasks_legacy_check.py OURS.json EXPECTED_TASKS.json [TABLE.txt]

The same tasks (by id), each with its name ("Task-N" for a name held as an int; none before 3.8),
the OS thread of the loop that runs it (none for a loop that does not run), its coroutine chain
(qualname, file and line, innermost first) and the tasks awaiting it. Prints every difference
and exits 1, or exits 0. With TABLE.txt (--tasks), each task must have a row there with its id
and name. Keep the syntax 3.7-compatible.
"""
import json
import sys

ours = json.load(open(sys.argv[1], encoding="utf-8"))
truth = json.load(open(sys.argv[2], encoding="utf-8"))
problems = []

got = {}
for interpreter in ours["interpreters"]:
    if interpreter.get("tasks_unavailable") or interpreter.get("tasks_error"):
        problems.append("interpreter %s: %s %s" % (interpreter["id"], interpreter.get("tasks_unavailable"),
                                                  interpreter.get("tasks_error")))
    for task in interpreter.get("tasks", []):
        got[task["id"]] = task

want = {}
for loop in truth["loops"]:
    for task in loop["tasks"]:
        want[int(task["id"], 16)] = (loop, task)

for task_id in sorted(set(want) - set(got)):
    problems.append("missing task %s %r" % (hex(task_id), want[task_id][1]["name"]))
for task_id in sorted(set(got) - set(want)):
    problems.append("unexpected task %s %r" % (hex(task_id), got[task_id]["name"]))

for task_id in sorted(set(want) & set(got)):
    loop, expected = want[task_id]
    task = got[task_id]
    where = "task %s (%s)" % (hex(task_id), expected["name"])
    name = expected["name"] or ""
    if task["name"] != name:
        problems.append("%s: name %r, expected %r" % (where, task["name"], name))
    thread = loop["thread"]["tid"] if loop["thread"] else None
    if task["thread"] != thread:
        problems.append("%s: thread %r, expected %r" % (where, task["thread"], thread))
    chain = [(f["qualname"], f["filename"], f["line"]) for f in task["coroutine_stack"]]
    expected_chain = [(f["qualname"], f["file"], f["line"]) for f in expected["coro"]]
    if chain != expected_chain:
        problems.append("%s: coroutine stack\n    %r\n  expected\n    %r" % (where, chain, expected_chain))
    awaiters = sorted(task["awaited_by"] or [])
    expected_awaiters = sorted(int(a, 16) for a in expected["awaited_by"])
    if awaiters != expected_awaiters:
        problems.append("%s: awaited by %r, expected %r" % (where, [hex(a) for a in awaiters],
                                                            [hex(a) for a in expected_awaiters]))

if len(sys.argv) > 3:
    rows = open(sys.argv[3], encoding="utf-8").read().splitlines()[2:]
    for task_id, (loop, expected) in sorted(want.items()):
        row = "%-20s %-20s" % (hex(task_id), expected["name"] or "")
        if not any(line[11:].startswith(row) for line in rows):
            problems.append("no table row starts with %r" % row)

if len(want) < 10:
    problems.append("the truth holds only %d tasks" % len(want))
for problem in problems:
    print(problem)
sys.exit(1 if problems else 0)
