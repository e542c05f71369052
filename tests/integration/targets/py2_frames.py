"""Python 2.7 scenario "frames": the kinds of frames a 2.7 stack can hold. Generators (driven by a
for loop, by list(), a generator expression), a dict comprehension (own frame; 2.7 list
comprehensions run in their caller's frame), methods, classmethods, staticmethods, a property,
__init__, __call__, a decorated function, a lambda, nested functions (closures) and a class body.
(No coroutines, async generators, asyncio or yield from in 2.7.)
"""
import functools
import threading

import py2_common as common

NEVER = threading.Event()


def numbers(started):
    yield 1
    started.set()
    NEVER.wait()
    yield 2


def for_loop_over_generator(started):
    for _ in numbers(started):
        pass


def list_of_generator(started):
    list(numbers(started))


def slow(started, x):
    if x == 1:
        started.set()
        NEVER.wait()
    return x


def generator_expression(started):
    return sum(slow(started, x) for x in range(3))


def list_comprehension(started):
    return [slow(started, x) for x in range(3)]


def dict_comprehension(started):
    return {x: slow(started, x) for x in range(3)}


class Parker(object):
    def __init__(self, started=None):
        if started is not None:
            started.set()
            NEVER.wait()

    def method(self, started):
        started.set()
        NEVER.wait()

    @classmethod
    def class_method(cls, started):
        started.set()
        NEVER.wait()

    @staticmethod
    def static_method(started):
        started.set()
        NEVER.wait()

    @property
    def prop(self):
        self.started.set()
        NEVER.wait()

    def __call__(self, started):
        started.set()
        NEVER.wait()


class OldStyle:  # a classic class (2.7 only; an ordinary class in 3)
    def method(self, started):
        started.set()
        NEVER.wait()


def call_method(started):
    Parker().method(started)


def call_old_style_method(started):
    OldStyle().method(started)


def call_class_method(started):
    Parker.class_method(started)


def call_static_method(started):
    Parker().static_method(started)


def read_property(started):
    p = Parker()
    p.started = started
    return p.prop


def construct(started):
    Parker(started)


def call_instance(started):
    Parker()(started)


def traced(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs)
    return wrapper


@traced
def decorated(started):
    started.set()
    NEVER.wait()


def call_lambda(started):
    park = lambda: (started.set(), NEVER.wait())  # noqa: E731
    park()


def closures(started):
    def level1():
        def level2():
            started.set()
            NEVER.wait()
        level2()
    level1()


def class_body(started):
    class Body(object):
        started.set()
        NEVER.wait()
    return Body


def main():
    for func in (for_loop_over_generator, list_of_generator, generator_expression,
                 list_comprehension, dict_comprehension, call_method, call_old_style_method,
                 call_class_method, call_static_method, read_property, construct, call_instance,
                 decorated, call_lambda, closures, class_body):
        common.start(func)
    common.finish_with_watchdog()


main()
