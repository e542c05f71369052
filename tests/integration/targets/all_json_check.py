"""Reads `pystack-dump --all --format=json` on stdin: each line must be one JSON object (JSON
Lines) with "host", "pid" and "command_line" first, then a dump ("interpreters") or an "error".
Prints "PID HOST" per line; exits 1 naming the first line that is not so."""
import json
import sys

for number, line in enumerate(sys.stdin, 1):
    try:
        doc = json.loads(line)
    except ValueError as e:
        sys.exit("line %d is not JSON (%s): %r" % (number, e, line[:200]))
    if not isinstance(doc, dict) or list(doc)[:3] != ["host", "pid", "command_line"]:
        sys.exit("line %d does not start with host, pid, command_line: %r" % (number, line[:200]))
    if "interpreters" not in doc and "error" not in doc:
        sys.exit("line %d has neither interpreters nor error: %r" % (number, line[:200]))
    print(doc["pid"], doc["host"])
