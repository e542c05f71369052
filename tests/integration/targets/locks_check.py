"""Checks pystack-dump's --locks --format=json output against the truth locks_deadlocks.py
recorded in the process (OUT_DIR/expected_locks.json), with this interpreter's json module.

    python locks_check.py OURS.json EXPECTED_LOCKS.json

The waits must be the same (by thread: the object's address, type and name, the holder's thread
and how it is known; for the GIL, which has no object, the type and the holder), and so must the
deadlock cycles. Prints every difference and exits 1, or exits 0. Keep the syntax 3.6-compatible.
"""
import json
import sys

ours = json.load(open(sys.argv[1], encoding="utf-8"))
truth = json.load(open(sys.argv[2], encoding="utf-8"))
problems = []

waits, deadlocks = [], []
for interpreter in ours["interpreters"]:
    locks = interpreter.get("locks")
    if locks is None:
        problems.append("interpreter %s has no locks report" % interpreter["id"])
        continue
    if locks.get("error"):
        problems.append("interpreter %s: %s" % (interpreter["id"], locks["error"]))
    waits += locks["waits"]
    deadlocks += locks["deadlocks"]


def key(wait):
    obj = wait["object"]
    address = None if obj["type"] == "GIL" else obj["address"]
    return (wait["thread_id"], address, obj["type"], obj["name"], wait["holder_thread_id"],
            wait["holder"])


got = sorted(key(w) for w in waits)
want = sorted(key(w) for w in truth["locks"]["waits"])
for w in want:
    if w not in got:
        problems.append("missing wait %r" % (w,))
for g in got:
    if g not in want:
        problems.append("unexpected wait %r" % (g,))
if sorted(deadlocks) != sorted(truth["locks"]["deadlocks"]):
    problems.append("deadlocks %r, expected %r" % (deadlocks, truth["locks"]["deadlocks"]))
if not want:
    problems.append("the truth holds no wait")
for problem in problems:
    print(problem)
sys.exit(1 if problems else 0)
