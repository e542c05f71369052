"""A SIGSEGV (ctypes.string_at(0)) a few calls deep in the main thread, while other threads are
blocked. Run under -X faulthandler: its crash report goes to stderr."""
import ctypes

import core_common as common


def crash_inner():
    ctypes.string_at(0)


def crash_middle():
    crash_inner()


def crash_outer():
    crash_middle()


def main():
    common.park_workers()
    common.wait_parked()
    crash_outer()


main()
