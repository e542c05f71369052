# -*- coding: utf-8 -*-
"""Scenario "tb_stacks": what traceback.format_stack() shows of parked threads (see tb_common).

Source files the target writes itself into OUT_DIR/mods and imports: a latin-1 file with its
coding cookie on line 2 (after a shebang), a UTF-8 file without cookie (3.x; 2.7 needs one), a
file starting with a UTF-8 BOM, a cp1252 file, a file with CRLF and lone CR line ends, a file
whose parked line holds a form feed, \\x1c, NEL and LINE SEPARATOR (3.13 indents the pieces
between them), trailing non-ASCII whitespace (3.x strips it, 2.7 does not), a module deleted
after import. Code run with exec() under names linecache skips ("<...>") or cannot find (a
missing absolute path), under the name of another existing file (whose lines are then shown), a
relative name (looked up in the working directory), a name with an undecodable byte (3.x: a lone
surrogate), a file that is not valid UTF-8 and one whose cookie names an unknown codec (3.10+
show no line, 3.6-3.9 raise out of format_stack). Recursion 3, 4 and 50 deep (the repeated-frame
rule of 3.6+: none, "1 more time", "47 more times") and 150 deep on one line down to a C call
(the rule at the very end of the stack).
"""
import os
import sys
import time

import tb_common as common

NEVER = common.NEVER
PY2 = common.PY2
MODS = os.path.join(common.OUT_DIR, "mods")

PARK = b"def park(started, never):\n    started.set()\n"


def u(text):
    """A unicode literal for 2.7 and 3.x alike (escapes only: the file is ASCII)."""
    return text.encode("ascii").decode("unicode_escape") if PY2 else text


def write(name, data):
    path = os.path.join(MODS, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def load(name):
    module = __import__(name)
    return module


def modules():
    if not os.path.isdir(MODS):
        os.makedirs(MODS)
    sys.path.insert(0, MODS)
    utf8_cookie = b"# -*- coding: utf-8 -*-\n" if PY2 else b""
    write("tb_latin1_mod.py",
          b"#!/usr/bin/env python\n# -*- coding: latin-1 -*-\n" + PARK +
          b"    never.wait()  # caf\xe9 \xfc\xdf \xa0\n")
    nonascii_name = b"park" if PY2 else u("p\u00e4rk_\u4e2d").encode("utf-8")
    write("tb_utf8_mod.py",
          utf8_cookie + b"def " + nonascii_name + b"(started, never):\n    started.set()\n" +
          u("    never.wait()  # \u00fcn\u00efc\u00f6d\u00e9 \u4e2d\u6587 \U0001F600"
            "\u00a0\u2003").encode("utf-8") + b"\n" +
          b"park = " + nonascii_name + b"\n")
    write("tb_bom_mod.py",
          b"\xef\xbb\xbf" + PARK + u("    never.wait()  # bom \u00e9").encode("utf-8") + b"\n")
    write("tb_cp1252_mod.py",
          b"# vim: set fileencoding=cp1252 :\n" + PARK + b"    never.wait()  # \x80 euro \x93q\x94\n")
    write("tb_newlines_mod.py",
          b"x = 1\r\ny = 2\rdef park(started, never):\r\n    started.set()\r\n"
          b"    never.wait()  # crlf\r\n")
    write("tb_ff_mod.py",
          utf8_cookie + b"def park(started, never):\n    started.set()\n" +
          b"    started.set();\x0cnever.wait()  # fs\x1c" + u("nel\u0085ls\u2028end").encode("utf-8") +
          b"\n")
    write("tb_deleted_mod.py", PARK + b"    never.wait()  # deleted\n")
    names = ["tb_latin1_mod", "tb_utf8_mod", "tb_bom_mod", "tb_cp1252_mod", "tb_newlines_mod",
             "tb_ff_mod", "tb_deleted_mod"]
    loaded = dict((name, load(name)) for name in names)
    os.remove(os.path.join(MODS, "tb_deleted_mod.py"))
    return loaded


EXEC_SOURCE = "started.set()\nNEVER.wait()\n"


def run_exec(started, filename, source=EXEC_SOURCE):
    exec(compile(source, filename, "exec"), {"started": started, "NEVER": NEVER})


def exec_cases():
    """(thread name, filename) for code compiled from a string under that name."""
    other = write("tb_other.txt", b"line one\nline two\nline three\n")
    relative = "tb_relative.py"
    with open(os.path.join(common.OUT_DIR, relative), "wb") as f:
        f.write(b"# a file found through the working directory\nNEVER.wait()  # relative\n")
    bad_utf8 = write("tb_bad_utf8.py", EXEC_SOURCE.encode("ascii") + b"# \xff\xfe not UTF-8\n")
    unknown = write("tb_unknown_codec.py",
                    b"# coding: tb-no-such-codec\n" + EXEC_SOURCE.encode("ascii"))
    # A name with a byte that is not UTF-8: in 3.x os.fsdecode makes it a lone surrogate.
    odd_bytes = os.path.join(MODS, "tb_odd_\xff.py") if PY2 else \
        os.path.join(MODS, u("tb_odd_\udcff.py"))
    with open(odd_bytes, "wb") as f:
        f.write(EXEC_SOURCE.encode("ascii").replace(b"NEVER.wait()", b"NEVER.wait()  # odd"))
    cases = [
        ("tb-exec-fake", "<tb fake>"),
        ("tb-exec-missing", "/nonexistent/tb_missing.py"),
        ("tb-exec-other", other),
        ("tb-exec-relative", relative),
        ("tb-exec-odd-bytes", odd_bytes),
        ("tb-exec-bad-utf8", bad_utf8),
        ("tb-exec-unknown-codec", unknown),
    ]
    return cases


def recurse(started, n):
    if n:
        return recurse(started, n - 1)
    started.set()
    NEVER.wait()


def recurse_on_one_line(started, n): return recurse_on_one_line(started, n - 1) if n else (started.set(), time.sleep(common.FOREVER))  # noqa: E501,E704


def main():
    os.chdir(common.OUT_DIR)  # relative filenames are looked up here
    loaded = modules()
    for name, module in sorted(loaded.items()):
        common.start(name.replace("_", "-"), module.park, NEVER)
    for thread_name, filename in exec_cases():
        common.start(thread_name, run_exec, filename)
    for depth in (3, 4, 50):
        common.start("tb-recurse-%d" % depth, recurse, depth)
    common.start("tb-recurse-one-line", recurse_on_one_line, 150)
    common.finish()


main()
