"""Scenario "blocking": threads parked, through nested calls, in the usual blocking primitives.

Event.wait, Queue.get, a deadlock of two threads on two locks, time.sleep, select.select,
socket.recv, os.read on a pipe, Thread.join, Semaphore.acquire, Condition.wait_for, and a thread
with no Python frame at all (_thread.start_new_thread on a C function).
"""
import _thread
import os
import queue
import select
import socket
import threading
import time

import pd_common as common

NEVER = threading.Event()


def event_inner(started):
    started.set()
    NEVER.wait()


def event_middle(started):
    event_inner(started)


def event_outer(started):
    event_middle(started)


def queue_get(started):
    q = common.keep(queue.Queue())
    started.set()
    q.get()


def take_both(started, first, second, barrier):
    with first:
        barrier.wait()
        started.set()
        second.acquire()


def deadlock_a(started, lock1, lock2, barrier):
    take_both(started, lock1, lock2, barrier)


def deadlock_b(started, lock1, lock2, barrier):
    take_both(started, lock2, lock1, barrier)


def sleeper(started):
    started.set()
    time.sleep(common.FOREVER)


def wait_readable(started):
    a, b = common.keep(socket.socketpair())
    started.set()
    select.select([a], [], [])


def receive(started):
    a, b = common.keep(socket.socketpair())
    started.set()
    a.recv(1)


def read_pipe(started):
    r, w = common.keep(os.pipe())
    started.set()
    os.read(r, 1)


def join_other(started, other):
    started.set()
    other.join()


def semaphore(started):
    s = threading.Semaphore(0)
    started.set()
    s.acquire()


def condition(started):
    cond = threading.Condition()
    with cond:
        started.set()
        cond.wait_for(lambda: False)


def main():
    common.start(event_outer)
    common.start(queue_get)
    lock1, lock2 = threading.Lock(), threading.Lock()
    barrier = threading.Barrier(2)
    common.start(deadlock_a, lock1, lock2, barrier)
    common.start(deadlock_b, lock1, lock2, barrier)
    sleeping = common.start(sleeper)
    common.start(wait_readable)
    common.start(receive)
    common.start(read_pipe)
    common.start(join_other, sleeping)
    common.start(semaphore)
    common.start(condition)
    _thread.start_new_thread(time.sleep, (common.FOREVER,))  # no Python frame in this thread
    common.finish_with_watchdog()


main()
