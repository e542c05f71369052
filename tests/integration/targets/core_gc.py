"""A SIGSEGV inside a __del__ that the cyclic garbage collector runs (gc.collect() in the main
thread), while other threads are blocked: faulthandler (3.10+) notes "Garbage-collecting"."""
import ctypes
import gc

import core_common as common


class Crasher(object):
    def __del__(self):
        ctypes.string_at(0)


def make_garbage():
    a = Crasher()
    a.cycle = a


def main():
    common.park_workers()
    common.wait_parked()
    gc.disable()
    make_garbage()
    gc.collect()


main()
