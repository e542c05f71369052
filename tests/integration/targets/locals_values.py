"""Scenario "values" of --locals: local variables of every type whose repr pystack-dump computes
from memory, in threads parked in park() (targets/locals_common.py), and the main thread parked
at module level (its <module> frame shows every global of this module).

scalars     None, bool, int (small, negative, at and around digit boundaries, 64-bit and much
            bigger; 2.7: int and long), float (every form of Python's repr), int/float subclasses
texts       str quoting and escapes, non-ASCII printable or not, astral, lone surrogates, code
            points assigned in recent Unicode versions; bytes; str subclasses; 2.7 str/unicode
containers  tuples (empty, 1-tuple, nested), lists, dicts (empty, nested, non-str keys, many
            entries, deleted entries, an instance __dict__), sets and frozensets (with deleted
            elements), subclasses that keep the built-in repr, self-containing containers
objects     instances with object.__repr__, functions, lambdas, built-in functions and methods,
            classes, modules, generators, coroutines, async generators, bound methods
closures    cell and free variables, an unbound cell, an unbound local, a deleted local
frames      a generator, a class body, exec() with its own locals, a comprehension
"""
import collections
import os
import sys

import locals_common as common

PY2 = sys.version_info[0] == 2


class Plain(object):
    def method(self):
        pass


class Slotted(object):
    __slots__ = ("a",)


class Outer(object):
    class Inner(object):
        pass


class MyDict(dict):
    pass


class MyList(list):
    pass


class MyTuple(tuple):
    pass


class MyInt(int):
    pass


class MyFloat(float):
    pass


class MyStr(str):
    pass


class MySet(set):
    pass


class MyFrozen(frozenset):
    pass


def scalars():
    nothing = None
    yes = True
    no = False
    zero = 0
    small = 7
    negative = -12345
    below_digit = 2 ** 30 - 1
    digit = 2 ** 30
    word = 2 ** 63 - 1
    past_word = 2 ** 64
    big = 3 ** 300
    big_negative = -(10 ** 100) - 7
    floats = [0.0, -0.0, 1.5, 100.0, 1e16, 1e15, 1e-05, 0.0001, 0.1, 1.0 / 3, 5e-324,
              1.7976931348623157e308, float("inf"), float("-inf"), float("nan"), -2.5e-06,
              123456789012345678.0]
    one_float = 2.5
    sub_int = MyInt(42)
    sub_float = MyFloat(0.25)
    if PY2:
        py2_long = long(5)  # noqa: F821
        py2_negative_long = -long(2) ** 70  # noqa: F821
    common.park()


def texts():
    empty = u""
    quotes = [u"'", u'"', u"'\"", u"it's", u'say "hi"', u"back\\slash"]
    controls = u"\x00\x01\t\n\r\x1b\x7f"
    latin = u"\x80\x9f\xa0\xa1\xad\xe9\xff"
    bmp = u"\u0100\u2028\u200b\ufeff\u4e2d\u6587\uffff"
    astral = u"\U0001F600\U000E0001\U0010FFFF"
    newer_unicode = u"\u0560\u0c5d\u1abf\U0001FAE0\U0002EBF0\U00031350"
    long_text = u"x" * 3000
    data = b"\x00\x7f\x80\xff'\"\\abc"
    empty_bytes = b""
    quoted_bytes = b"it's"
    sub_str = MyStr("sub")
    if not PY2:
        lone_surrogates = "\ud800\udfff"
    common.park()


def containers():
    empty_tuple = ()
    one_tuple = (1,)
    nested_tuple = ((), (1,), (1, (2, 3)))
    empty_list = []
    nested_list = [[], [[]], [1, [2, [3, [4]]]]]
    empty_dict = {}
    nested_dict = {"a": {"b": {"c": {}}}, 1: [2], (3, 4): None, 2.5: u"x", None: True}
    many = dict((i, i * i) for i in range(300))
    deleted = dict((str(i), i) for i in range(20))
    for i in range(0, 20, 3):
        del deleted[str(i)]
    deleted["late"] = 1
    small_set = set([1, 2, 3])
    str_set = set(["alpha", "beta", "gamma", "delta"])
    shrunk_set = set(range(40))
    for i in range(0, 40, 2):
        shrunk_set.discard(i)
    empty_set = set()
    frozen = frozenset([5])
    empty_frozen = frozenset()
    sub_dict = MyDict(a=1)
    sub_list = MyList([1, 2])
    sub_tuple = MyTuple((1,))
    sub_set = MySet([1])
    sub_frozen = MyFrozen([2])
    empty_sub_set = MySet()
    looped_list = [1]
    looped_list.append(looped_list)
    looped_dict = {"k": 1}
    looped_dict["self"] = looped_dict
    instance = Plain()
    instance.first = 1
    instance.second = [2]
    instance.third = u"3"
    del instance.first
    instance.first = 4
    attributes = instance.__dict__
    common.park()


def objects():
    plain = Plain()
    slotted = Slotted()
    inner = Outer.Inner()
    function = scalars
    anonymous = lambda: None  # noqa: E731

    def nested():
        pass

    builtin = len
    bound_builtin = [].append
    classes = [int, str, Plain, Outer.Inner, collections.OrderedDict, type]
    modules = [os, sys, collections, common]
    suspended = generator()
    if not PY2:  # 2.7 prints bound methods as another type, and has no coroutines
        bound = plain.method
        namespace = {}
        exec("async def coroutine_function(): pass\n"
             "async def async_generator_function(): yield 1\n", namespace)
        coroutine = namespace["coroutine_function"]()
        async_generator = namespace["async_generator_function"]()
        del namespace  # exec() put the whole builtins dict in it
    common.park()


def closures(argument, cell_argument):
    captured = [argument]

    def inner():
        local = captured[0] + cell_argument
        common.park()
        unbound_local = local
        return unbound_local, captured, late_cell

    gone = 1
    del gone
    inner()
    late_cell = 2
    unbound_later = 3
    return unbound_later


def generator():
    produced = [1, 2]
    common.park()
    yield produced


def run_generator():
    next(generator())


def class_body():
    class Body(object):
        attribute = 1
        derived = [attribute, 2]
        common.park()
    return Body


def run_exec():
    # Its own (empty) builtins: exec() would add the whole builtins dict otherwise.
    namespace = {"common": common, "shared": 1, "__builtins__": {}}
    local_namespace = {"own": [1, 2], "text": u"exec"}
    exec("common.park()", namespace, local_namespace)


def comprehension():
    prefix = 1
    return [common.park() for item in range(1)]


common.start(scalars)
common.start(texts)
common.start(containers)
common.start(objects)
common.start(closures, 41, 1)
common.start(run_generator)
common.start(class_body)
common.start(run_exec)
common.start(comprehension)
common.report_when_parked()
common.park()
