"""Checks pystack-dump's --format=json against its --format=traceback output of the same
process, with the interpreter of the dumped process (2.7 or 3.6+):

    python tb_json_check.py JSON_FILE TRACEBACK_FILE PID

The JSON must parse (json.load), describe this interpreter's version and executable and process
PID, carry every field of the schema (README.md, "JSON output"), and agree with the text: the same
threads in the same order, and for each thread the text that CPython's own
traceback.format_list() makes of the JSON frames (oldest first, with the JSON's source lines)
must equal the thread's block of the traceback output, byte for byte. Exits 0 when all holds,
else 1 with one line per problem on stderr.
"""
import json
import os
import re
import sys
import traceback

PY2 = sys.version_info[0] == 2
problems = []


def problem(text):
    problems.append(text)


def as_target_str(value):
    """A JSON string as the target's own str: Python 2 str bytes come back from their
    os.fsdecode-like form (lone surrogates U+DC80..U+DCFF are the undecodable bytes)."""
    if value is None or not PY2:
        return value
    out = []
    for c in value:
        if 0xDC80 <= ord(c) <= 0xDCFF:
            out.append(chr(ord(c) - 0xDC00))
        else:
            out.append(c.encode("utf-8"))
    return "".join(out)


def as_bytes(text):
    if PY2:
        return text.encode("utf-8") if isinstance(text, unicode) else text  # noqa: F821
    return text.encode("utf-8", "backslashreplace")


HEADER = re.compile(br"^(Current thread|Thread) 0x([0-9a-f]{16})(.*) \(most recent call last\):$")


def text_blocks(data):
    """[(thread id, header line, body)] of the traceback output."""
    blocks = []
    lines = data.split(b"\n")
    for i, line in enumerate(lines):
        m = HEADER.match(line)
        if m:
            blocks.append([int(m.group(2), 16), line, []])
        elif blocks:
            blocks[-1][2].append(line)
        elif line:
            problem("text before the first thread header: %r" % line)
    result = []
    for ident, header, body in blocks:
        # Between threads a blank line; the output's final "\n" leaves "" after the last.
        if body[-1:] != [b""]:
            problem("thread 0x%x: block does not end in a blank line: %r" % (ident, body[-2:]))
        body = body[:-1]
        result.append((ident, header, b"".join(line + b"\n" for line in body)))
    return result


def check_fields(obj, fields, what):
    for name, kinds in fields:
        if name not in obj:
            problem("%s: no field %r" % (what, name))
        elif not isinstance(obj[name], kinds):
            problem("%s: %r is %r" % (what, name, obj[name]))


STR = (type(u""),)
INT = (int,) if not PY2 else (int, long)  # noqa: F821
OPT_STR = STR + (type(None),)
OPT_INT = INT + (type(None),)


def main():
    json_path, text_path, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(json_path) as f:
        doc = json.load(f)
    with open(text_path, "rb") as f:
        blocks = text_blocks(f.read())

    check_fields(doc, [("pid", INT), ("python_version", STR), ("executable", STR),
                       ("fatal_error", OPT_STR), ("interpreters", (list,))], "document")
    if doc.get("pid") != pid:
        problem("pid %r, expected %d" % (doc.get("pid"), pid))
    # Without the micro version when the tool could not tell it (before 3.11, at times).
    versions = ["%d.%d.%d" % sys.version_info[:3], "%d.%d" % sys.version_info[:2]]
    if doc.get("python_version") not in versions:
        problem("python_version %r, expected one of %r" % (doc.get("python_version"), versions))
    if os.path.realpath(doc.get("executable", "")) != os.path.realpath(sys.executable):
        problem("executable %r, expected %r" % (doc.get("executable"), sys.executable))

    threads = []
    for interp in doc.get("interpreters", []):
        check_fields(interp, [("id", INT), ("error", OPT_STR), ("threads", (list,))],
                     "interpreter")
        threads.extend(interp.get("threads", []))
    if [t.get("thread_id") for t in threads] != [b[0] for b in blocks]:
        problem("threads differ: json %r, text %r" %
                ([t.get("thread_id") for t in threads], [b[0] for b in blocks]))

    for thread, (ident, header, body) in zip(threads, blocks):
        what = "thread 0x%x" % ident
        check_fields(thread, [("thread_id", INT), ("native_thread_id", OPT_INT),
                              ("name", OPT_STR), ("os_name", OPT_STR), ("is_current", (bool,)),
                              ("holds_gil", (bool,)), ("gc_collecting", (bool,)),
                              ("error", OPT_STR), ("frames", (list,))], what)
        if thread.get("is_current") != header.startswith(b"Current thread "):
            problem("%s: is_current %r but header %r" % (what, thread.get("is_current"), header))
        native = thread.get("native_thread_id")
        if native is not None and (b"(tid %d" % native if not PY2 else "(tid %d" % native) \
                not in header:
            problem("%s: native_thread_id %r not in header %r" % (what, native, header))
        entries = []
        for frame in reversed(thread.get("frames", [])):
            check_fields(frame, [("filename", OPT_STR), ("name", OPT_STR), ("qualname", OPT_STR),
                                 ("line", OPT_INT), ("source", OPT_STR)], what + " frame")
            if "locals" in frame:
                problem("%s: locals without --locals" % what)
            if sys.version_info >= (3, 11) and frame.get("qualname") is None:
                problem("%s: no qualname in 3.11+: %r" % (what, frame))
            # '' and not None: with None, 3.13's FrameSummary would look the line up itself.
            entries.append((as_target_str(frame.get("filename")), frame.get("line"),
                            as_target_str(frame.get("name")),
                            as_target_str(frame.get("source")) or ""))
        expected = as_bytes("".join(traceback.format_list(entries)))
        if expected != body:
            problem("%s: format_list(json frames) differs from the text block:\n%r\n%r" %
                    (what, expected, body))

    for p in problems:
        sys.stderr.write(p + "\n")
    return 1 if problems else 0


sys.exit(main())
