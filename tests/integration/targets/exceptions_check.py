"""Checks pystack-dump --exceptions against the truth exceptions_handled.py recorded.

Usage: exceptions_check.py OURS EXPECTED_JSON [--json]
OURS is --format=traceback --exceptions output: for each recorded thread, the block of that thread
must end with "Handling exception:" and then exactly the recorded format_exception text (for the
class with a Python __str__: its message replaced by BaseException.__str__'s, followed by the
documented marker line). With --json, OURS is --format=json --exceptions output: each recorded
thread's "exception" must name the type and carry the message and frames of the recorded text.
Prints every mismatch; exits 1 when there is one.
"""
import json
import re
import sys

MARKER = ("<pystack-dump: str() of this exception is defined in Python and was not run: "
          "the message shown is BaseException.__str__(exc)>\n")
HEADER = re.compile(r"^(?:Current thread|Thread) 0x([0-9a-f]{16})\b.*\n", re.M)


SUGGESTION = ("<pystack-dump: traceback may append \". Did you mean: '...'?\" to this line; "
              "the names it would search are not read>\n")


def expected_text(record, version):
    text = record["text"]
    if record["case"] == "name_error" and version >= (3, 12):
        return text + SUGGESTION  # after the NameError line, the last one
    if record["base_str"] is None:
        return text
    # The last line is "OwnStrError: <what the Python __str__ returned>".
    head, last = text[:-1].rsplit("\n", 1)
    type_name = last.split(": ", 1)[0]
    return head + "\n" + type_name + ": " + record["base_str"] + "\n" + MARKER


def blocks(ours):
    headers = list(HEADER.finditer(ours))
    found = {}
    for i, m in enumerate(headers):
        end = headers[i + 1].start() if i + 1 < len(headers) else len(ours)
        block = ours[m.start():end]
        if i + 1 < len(headers) and block.endswith("\n\n"):
            block = block[:-1]  # the blank line between two threads
        found[int(m.group(1), 16)] = block
    return found


def check_text(ours, truth):
    version = tuple(int(p) for p in truth["python"].split("."))
    problems = []
    found = blocks(ours)
    for record in truth["threads"]:
        block = found.get(record["thread_id"])
        if block is None:
            problems.append("%s: no block for thread 0x%016x" % (record["case"], record["thread_id"]))
            continue
        want = "Handling exception:\n" + expected_text(record, version)
        if not block.endswith(want):
            at = block.find("Handling exception:\n")
            got = block[at:] if at >= 0 else block
            problems.append("%s: expected\n%s\ngot\n%s" % (record["case"], want, got))
    return problems


def check_json(ours, truth):
    version = tuple(int(p) for p in truth["python"].split("."))
    problems = []
    threads = {}
    for interp in json.loads(ours)["interpreters"]:
        for thread in interp["threads"]:
            threads[thread["thread_id"]] = thread
    for record in truth["threads"]:
        thread = threads.get(record["thread_id"])
        exc = thread.get("exception") if thread else None
        if exc is None:
            problems.append("%s: no exception for thread %d" % (record["case"], record["thread_id"]))
            continue
        lines = expected_text(record, version).split("\n")
        qualname = exc["type"] if exc["module"] in ("__main__", "builtins") else (
            exc["module"] + "." + exc["type"])
        want = qualname + (": " + exc["message"] if exc["message"] else "")
        # The exception's own line: the last but for notes, group members and the marker.
        if not any(line.endswith(want) for line in lines):
            problems.append("%s: type and message %r are on no line of the recorded text"
                            % (record["case"], want))
        for frame in exc["frames"]:
            pattern = '  File "%s", line %d, in %s\n' % (frame["filename"], frame["line"], frame["name"])
            if pattern not in record["text"]:
                problems.append("%s: frame %r is not in the recorded text" % (record["case"], pattern))
        if exc["message_from_base_exception"] != (record["base_str"] is not None):
            problems.append("%s: message_from_base_exception is wrong" % record["case"])
    return problems


def main():
    ours_path, truth_path = sys.argv[1], sys.argv[2]
    with open(ours_path) as f:
        ours = f.read()
    with open(truth_path) as f:
        truth = json.load(f)
    check = check_json if "--json" in sys.argv[3:] else check_text
    problems = check(ours, truth)
    for p in problems:
        print(p)
    print("%d threads checked, %d problems" % (len(truth["threads"]), len(problems)))
    sys.exit(1 if problems else 0)


main()
