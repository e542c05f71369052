"""python tree_pool.py OUT_DIR: a multiprocessing pool whose two workers deadlock.

Worker 0 takes lock A then waits for lock B, worker 1 takes B then waits for A (a barrier makes
sure both hold their first lock). The main process waits in pool.map for good. Each process
records its faulthandler dump once parked (tree_common.py): the workers whole ("worker"), the main
process its main thread ("pool-main"; the pool's own threads wake up now and then).
"""
import multiprocessing
import sys

import tree_common as common

OUT_DIR = sys.argv[1]
LOCKS = None
BARRIER = None


def init(lock_a, lock_b, barrier):
    global LOCKS, BARRIER
    common.guard()
    common.die_with_parent()
    LOCKS = (lock_a, lock_b)
    BARRIER = barrier


def take_both(first, second):
    with first:
        BARRIER.wait()
        common.record_when_parked(OUT_DIR, "worker")
        second.acquire()


def task(index):
    if index == 0:
        take_both(LOCKS[0], LOCKS[1])
    else:
        take_both(LOCKS[1], LOCKS[0])


def main():
    common.guard()
    common.die_with_parent()
    context = multiprocessing.get_context("fork")
    lock_a, lock_b = context.Lock(), context.Lock()
    barrier = context.Barrier(2)
    pool = context.Pool(2, initializer=init, initargs=(lock_a, lock_b, barrier))
    common.record_when_parked(OUT_DIR, "pool-main", main_thread_only=True)
    pool.map(task, [0, 1])


if __name__ == "__main__":
    main()
