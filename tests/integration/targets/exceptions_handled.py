"""Scenario "exceptions": threads parked inside `except` blocks, each recording what
traceback.format_exception prints for the exception it handles (the truth for --exceptions).

Usage: exceptions_handled.py OUT_DIR

One thread per case (cases a version cannot raise are listed in OUT_DIR/skipped):
  plain       ValueError raised two calls deep
  cause       raise KeyError(...) from an OSError (the direct cause)
  context     a TypeError raised while handling a ZeroDivisionError (implicit context)
  suppressed  raise ... from None: the context is kept but suppressed
  notes       an exception with two notes, one of two lines (3.11+)
  oserror     FileNotFoundError with errno, strerror and filename (open() of a missing file)
  keyerror    KeyError('missing') from a dict lookup
  group       nested exception groups (3.11+)
  own_str     an exception whose class defines __str__ in Python: also records
              BaseException.__str__(e), the message pystack-dump shows in its place
  carets      an error inside an expression whose position does not span its line (3.11+ carets)
  name_error  a NameError no suggestion applies to (3.12+: pystack-dump says it did not search)

Writes OUT_DIR/expected_exceptions.json: {"python": "X.Y.Z", "threads": [{"case": C, "thread_id":
IDENT, "text": ''.join(traceback.format_exception(type(e), e, e.__traceback__)), "base_str":
S|null}]}, then the ready marker ("idle").
"""
import json
import os
import sys
import threading
import traceback

import pd_common as common

NEVER = threading.Event()
_records = []
_records_lock = threading.Lock()


def record(case, e, base_str=None):
    # Under the lock: linecache is not thread-safe on a free-threaded build (3.13t: a KeyError
    # from linecache.getlines when another thread's checkcache drops the entry).
    with _records_lock:
        text = "".join(traceback.format_exception(type(e), e, e.__traceback__))
        _records.append({"case": case, "thread_id": threading.get_ident(), "text": text,
                         "base_str": base_str})


def inner_plain():
    raise ValueError("plain failure in inner_plain")


def outer_plain():
    inner_plain()


def raise_cause():
    try:
        os.stat("/nonexistent/pystack-dump-cause")
    except OSError as e:
        raise KeyError("lookup failed") from e


def raise_context():
    try:
        1 / 0
    except ZeroDivisionError:
        raise TypeError("while handling the division")


def raise_suppressed():
    try:
        {}["absent"]
    except KeyError:
        raise RuntimeError("context suppressed") from None


def raise_notes():
    e = ValueError("with notes")
    e.add_note("first note")
    e.add_note("second note\nspans two lines")
    raise e


def raise_oserror():
    open("/nonexistent/pystack-dump-file.txt")


def raise_keyerror():
    table = {"present": 1}
    return table["missing"]


def raise_group():
    def leaf(n):
        raise ValueError("leaf %d" % n)

    errors = []
    for n in range(3):
        try:
            leaf(n)
        except ValueError as e:
            errors.append(e)
    inner = ExceptionGroup("inner group", errors[:2])  # noqa: F821 (3.11+)
    raise ExceptionGroup("outer group", [inner, errors[2], TypeError("not raised")])  # noqa: F821


class OwnStrError(Exception):
    def __str__(self):
        return "computed by Python code: %r" % (self.args,)


def raise_own_str():
    raise OwnStrError("first arg", 2)


def raise_carets():
    values = {"a": [1, 2, 3]}
    total = values["a"][1] + len(values) * 0 + values["b"][0]
    return total


def raise_name_error():
    return zzq_undefined_name_3141  # noqa: F821: no name is close to it (no suggestion)


CASES = [
    ("plain", outer_plain, None),
    ("cause", raise_cause, None),
    ("context", raise_context, None),
    ("suppressed", raise_suppressed, None),
    ("notes", raise_notes, (3, 11)),
    ("oserror", raise_oserror, None),
    ("keyerror", raise_keyerror, None),
    ("group", raise_group, (3, 11)),
    ("own_str", raise_own_str, None),
    ("carets", raise_carets, None),
    ("name_error", raise_name_error, None),
]


def handler(started, case, func):
    try:
        func()
    except BaseException as e:  # noqa: B902: groups too
        base_str = BaseException.__str__(e) if case == "own_str" else None
        record(case, e, base_str)
        started.set()
        NEVER.wait()


def main():
    for case, func, since in CASES:
        if since is not None and sys.version_info < since:
            common.skip_feature("%s: needs Python %d.%d" % ((case,) + since))
            continue
        common.start(handler, case, func)
    common.wait_parked()
    with open(os.path.join(common.OUT_DIR, "expected_exceptions.json"), "w") as f:
        json.dump({"python": "%d.%d.%d" % sys.version_info[:3], "threads": _records}, f)
    common.write_marker("idle\n")
    NEVER.wait()


main()
