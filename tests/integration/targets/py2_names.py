# -*- coding: utf-8 -*-
"""Python 2.7 scenario "names": names and file names the 3.6 format escapes or truncates. A 2.7
code object's co_filename and co_name are str (bytes; unicode is refused): each byte is shown as
one code point, so UTF-8 text shows as \\xNN escapes. Here: an imported module and a file whose
names hold UTF-8 bytes; two files whose paths are longer than 500 bytes (non-ASCII bytes right at
the cut); code compiled from strings with odd file names (control bytes, quotes, a backslash, DEL,
bytes 0x80-0xff, the empty string); a function name longer than 500 bytes; a line number past
100000; and code objects rebuilt (types.CodeType) with NUL and high bytes in co_name and
co_filename. Python 2.7 only.
"""
import itertools
import os
import sys
import threading
import types

import py2_common as common

NEVER = threading.Event()

MODULE_SOURCE = (
    "def park(started, never):\n"
    "    started.set()\n"
    "    never.wait()\n"
)


def write_module(path):
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory)
    with open(path, "w") as f:
        f.write(MODULE_SOURCE)
    return path


def run_file(started, path):
    with open(path) as f:
        source = f.read()
    namespace = {}
    exec(compile(source, path, "exec"), namespace)
    namespace["park"](started, NEVER)


def imported_module(started, directory):
    sys.path.insert(0, directory)
    module = __import__("m\xc3\xb3dulo_\xe4\xb8\xad\xe6\x96\x87")
    module.park(started, NEVER)


def long_path(base, special_index, special):
    """A path longer than 500 bytes whose bytes from special_index on are `special`, made of
    directories whose names stay under 255 bytes."""
    fills = itertools.cycle(["x" * 200, "\xc3\xbc" * 60, "\xe4\xb8\xad" * 40])
    path = base
    while True:
        fill = next(fills)
        if len(path) + 1 + len(fill) + 1 >= special_index:
            break
        path += "/" + fill
    pad = special_index - len(path) - 1
    assert 0 <= pad <= 210, pad
    path += "/" + "y" * pad + special + "z" * 20 + ".py"
    assert path[special_index:special_index + len(special)] == special and len(path) > 500
    return path


def long_name(started):
    name = "n" * 497 + "\xc3\xa9" + "x" * 100
    code = "def f(started, never):\n    started.set()\n    never.wait()\n"
    namespace = {}
    exec(compile(code, "<long name>", "exec"), namespace)
    renamed(namespace["f"], name, "<long name>")(started, NEVER)


def exec_module_level(started, filename, first_line=1):
    source = "\n" * (first_line - 1) + "started.set()\nNEVER.wait()\n"
    exec(compile(source, filename, "exec"), {"started": started, "NEVER": NEVER})


def exec_function(started, filename):
    source = (
        "def generated_function(started):\n"
        "    started.set()\n"
        "    NEVER.wait()\n"
        "generated_function(started)\n"
    )
    exec(compile(source, filename, "exec"), {"started": started, "NEVER": NEVER})


def renamed(func, name, filename):
    """func with its code's co_name and co_filename replaced (2.7's types.CodeType)."""
    c = func.__code__
    code = types.CodeType(c.co_argcount, c.co_nlocals, c.co_stacksize, c.co_flags, c.co_code,
                          c.co_consts, c.co_names, c.co_varnames, filename, name,
                          c.co_firstlineno, c.co_lnotab, c.co_freevars, c.co_cellvars)
    return types.FunctionType(code, func.__globals__, name, func.__defaults__, func.__closure__)


def park(started):
    started.set()
    NEVER.wait()


def main():
    if sys.version_info[0] != 2:
        common.fail("py2_names.py is for Python 2.7")
    modules = os.path.join(common.OUT_DIR, "modules")
    write_module(os.path.join(modules, "m\xc3\xb3dulo_\xe4\xb8\xad\xe6\x96\x87.py"))
    odd_file = write_module(os.path.join(modules, "file_\xf0\x9f\x98\x80_\xc3\xa9.py"))
    long_a = write_module(long_path(common.OUT_DIR + "/a", 499, "\xc3\xa9"))
    long_b = write_module(long_path(common.OUT_DIR + "/b", 500, "\xf0\x9f\x98\x80"))

    common.start(imported_module, modules)
    common.start(run_file, odd_file)
    common.start(run_file, long_a)
    common.start(run_file, long_b)
    common.start(long_name)
    common.start(exec_module_level, "<generated \xc3\xa9\xf0\x9f\x98\x80>")
    common.start(exec_function, "<generated \xc3\xa9\xf0\x9f\x98\x80>")
    common.start(exec_module_level, "")
    common.start(exec_module_level, "<far away>", 100001)
    common.start(exec_function, "<ctrl\t\n\"q\" \\ \x7f\x80\xff\x01>")
    common.start(renamed(park, "nul\x00name\xff", "nul\x00file\x80"))
    common.start(renamed(park, "x" * 600, "\xe4" * 600))
    common.finish_with_watchdog()


main()
