"""Python 2.7 scenario "blocking" (see py2_common.py for how the expected dump is made): threads
parked through nested calls in Event.wait, Queue.get, a deadlock of two threads on two locks,
time.sleep, select.select, socket.recv, os.read on a pipe, Thread.join, Semaphore.acquire,
Condition.wait, and a thread with no Python frame (thread.start_new_thread on a C function).
"""
import os
import select
import socket
import threading
import time

try:
    import Queue as queue  # Python 2
except ImportError:  # Python 3, for the self-check
    import queue

import py2_common as common

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


def deadlock_a(started, lock1, lock2, both):
    with lock1:
        both.wait_for_pair()
        started.set()
        lock2.acquire()


def deadlock_b(started, lock1, lock2, both):
    with lock2:
        both.wait_for_pair()
        started.set()
        lock1.acquire()


class Pair(object):
    """A two-party barrier (threading.Barrier is 3.2+)."""

    def __init__(self):
        self.cond = threading.Condition()
        self.count = 0

    def wait_for_pair(self):
        with self.cond:
            self.count += 1
            self.cond.notify_all()
            while self.count < 2:
                self.cond.wait()


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
        cond.wait()


def main():
    common.start(event_outer)
    common.start(queue_get)
    lock1, lock2 = threading.Lock(), threading.Lock()
    pair = Pair()
    common.start(deadlock_a, lock1, lock2, pair)
    common.start(deadlock_b, lock1, lock2, pair)
    sleeping = common.start(sleeper)
    common.start(wait_readable)
    common.start(receive)
    common.start(read_pipe)
    common.start(join_other, sleeping)
    common.start(semaphore)
    common.start(condition)
    common.start_raw(time.sleep, (common.FOREVER,))  # no Python frame in this thread
    common.finish_with_watchdog()


main()
