"""Scenario "names": names and file names that faulthandler escapes or truncates.

Non-ASCII identifiers; a function name longer than 500 code points with non-ASCII code points at
the cut; an imported module whose file name is non-ASCII; a file with an astral character in its
name; two files whose paths are longer than 500 code points (built from several directories, each
component under 255 bytes) with an astral character right before and right at the cut; code
compiled from strings with odd file names (control characters, quotes, a backslash, DEL, Latin-1,
BMP and astral code points, a lone surrogate, the empty string); a line number past 100000; and
code objects renamed (code.replace(), or the CodeType constructor before 3.8) to hold NUL and lone
surrogates.
"""
import importlib
import itertools
import os
import sys
import threading
import types

import pd_common as common

NEVER = threading.Event()

MODULE_SOURCE = (
    "def park(started, never):\n"
    "    started.set()\n"
    "    never.wait()\n"
)


def é(started):
    started.set()
    NEVER.wait()


def 中文(started):
    started.set()
    NEVER.wait()


def ζήτα_ünï(started):
    中文(started)


def long_name(started):
    # The 498th to 501st code points (0-based 497 to 500) are non-ASCII; faulthandler keeps 500.
    name = "n" * 497 + "é中ß" + "ü" + "x" * 100
    namespace = {}
    exec("def %s(started, never):\n    started.set()\n    never.wait()\n" % name, namespace)
    namespace[name](started, NEVER)


def write_module(path):
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory)
    with open(path, "w", encoding="utf-8") as f:
        f.write(MODULE_SOURCE)
    return path


def run_file(started, path):
    with open(path, encoding="utf-8") as f:
        source = f.read()
    namespace = {}
    exec(compile(source, path, "exec"), namespace)
    namespace["park"](started, NEVER)


def imported_module(started, directory):
    sys.path.insert(0, directory)
    module = importlib.import_module("módulo_中文")
    module.park(started, NEVER)


def long_path(base, special_index, special):
    """A path whose code point number special_index (0-based) is `special` and which is longer
    than 500 code points, made of directories whose names stay under 255 bytes."""
    fills = itertools.cycle(["x" * 200, "ü" * 120, "中" * 80])
    path = base
    while True:
        fill = next(fills)
        if len(path) + 1 + len(fill) + 1 >= special_index:
            break
        path += "/" + fill
    pad = special_index - len(path) - 1
    assert 0 <= pad <= 210, pad
    path += "/" + "y" * pad + special + "z" * 20 + ".py"
    assert path[special_index] == special and len(path) > 500
    return path


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


def renamed(started):
    started.set()
    NEVER.wait()


def clone(func, name, filename):
    """A function calling `func` whose code object is named `name` and comes from `filename`:
    code.replace() from 3.8, the CodeType constructor before."""
    def park(started):
        func(started)
    c = park.__code__
    if hasattr(c, "replace"):
        park.__code__ = c.replace(co_name=name, co_filename=filename)
    else:  # 3.6, 3.7
        park.__code__ = types.CodeType(
            c.co_argcount, c.co_kwonlyargcount, c.co_nlocals, c.co_stacksize, c.co_flags,
            c.co_code, c.co_consts, c.co_names, c.co_varnames, filename, name, c.co_firstlineno,
            c.co_lnotab, c.co_freevars, c.co_cellvars)
    return park


def main():
    modules = os.path.join(common.OUT_DIR, "modules")
    write_module(os.path.join(modules, "módulo_中文.py"))
    astral_file = write_module(os.path.join(modules, "file_\U0001F600_é.py"))
    long_a = write_module(long_path(common.OUT_DIR + "/a", 499, "\U0001F600"))
    long_b = write_module(long_path(common.OUT_DIR + "/b", 500, "\U0001F600"))

    for func in (é, 中文, ζήτα_ünï, long_name):
        common.start(func)
    common.start(imported_module, modules)
    common.start(run_file, astral_file)
    common.start(run_file, long_a)
    common.start(run_file, long_b)
    common.start(exec_module_level, "<generated \u00e9\U0001F600>")
    common.start(exec_function, "<generated \u00e9\U0001F600>")
    common.start(exec_module_level, "")
    common.start(exec_module_level, "<far away>", 100001)
    odd = "<ctrl\t\n\"q\" \\ \x7f\x80\xff\u0100\uffff\U00010000\U0010ffff>"
    common.start(exec_function, odd)
    try:
        compile("pass", "<lone \udcff surrogate>", "exec")
        common.start(exec_function, "<lone \udcff surrogate>")
    except (UnicodeError, ValueError):
        common.skip_feature("names: a file name with a lone surrogate (compile() refuses it)")
    common.start(clone(renamed, "nul\x00name\ud800", "nul\x00file\udcff"))
    common.start(clone(renamed, "x" * 600, "\U0001F600" * 600))
    common.finish_with_watchdog()


main()
