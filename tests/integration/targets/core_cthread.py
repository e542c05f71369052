"""A SIGSEGV received by a thread that has no Python thread state (a C thread made with
pthread_create, parked in pause()), while the Python threads are blocked: faulthandler marks no
thread as current. Python 3 only (signal.pthread_kill)."""
import ctypes
import signal
import time

import core_common as common


def main():
    common.park_workers()
    libc = ctypes.CDLL(None)
    libc.pthread_create.argtypes = (ctypes.POINTER(ctypes.c_ulong), ctypes.c_void_p,
                                    ctypes.c_void_p, ctypes.c_void_p)
    thread = ctypes.c_ulong()
    if libc.pthread_create(ctypes.byref(thread), None, ctypes.cast(libc.pause, ctypes.c_void_p),
                           None) != 0:
        common.fail("pthread_create failed")
    common.wait_parked()
    # One line: whether the handler runs while this thread is in pthread_kill or in sleep, its
    # Python frame is the same.
    signal.pthread_kill(thread.value, signal.SIGSEGV); time.sleep(common.FOREVER)  # noqa: E702


main()
