"""Scenario "frames": the kinds of frames a stack can hold.

Generators (driven by a for loop, by yield from, a generator expression), comprehensions (own
frames up to 3.11, inlined from 3.12), coroutines driven by send(), an async generator, asyncio
loops (a task blocking synchronously, and a loop parked in select while its task awaits
asyncio.sleep), methods, classmethods, staticmethods, a property, __init__, __call__, a decorated
function, a lambda, nested functions (closures) and a class body.
"""
import asyncio
import functools
import threading
import time

import pd_common as common

NEVER = threading.Event()


# --- generators -------------------------------------------------------------------------------
def numbers(started):
    yield 1
    started.set()
    NEVER.wait()
    yield 2


def for_loop_over_generator(started):
    for _ in numbers(started):
        pass


def inner_gen(started):
    yield 0
    started.set()
    NEVER.wait()
    yield 1


def outer_gen(started):
    yield from inner_gen(started)


def yield_from(started):
    list(outer_gen(started))


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


# --- coroutines -------------------------------------------------------------------------------
async def coro_inner(started):
    started.set()
    NEVER.wait()


async def coro_outer(started):
    await coro_inner(started)


def drive_coroutine(started):
    coro = coro_outer(started)
    coro.send(None)


async def agen(started):
    yield 1
    started.set()
    NEVER.wait()
    yield 2


async def use_agen(started):
    async for _ in agen(started):
        pass


def drive_async_generator(started):
    use_agen(started).send(None)


async def task_blocking_the_loop(started):
    await asyncio.sleep(0)
    started.set()
    time.sleep(common.FOREVER)


async def task_sleeping(started):
    started.set()
    await asyncio.sleep(common.FOREVER)


def run_loop(started, coroutine_function):
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.run_until_complete(coroutine_function(started))


# --- methods and friends ----------------------------------------------------------------------
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


def call_method(started):
    Parker().method(started)


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
    for func in (for_loop_over_generator, yield_from, generator_expression, list_comprehension,
                 dict_comprehension, drive_coroutine, drive_async_generator, call_method,
                 call_class_method, call_static_method, read_property, construct, call_instance,
                 decorated, call_lambda, closures, class_body):
        common.start(func)
    common.start(run_loop, task_blocking_the_loop)
    common.start(run_loop, task_sleeping)
    common.finish_with_watchdog()


main()
