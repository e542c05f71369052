"""For gcore: threads parked in blocking calls, the main thread holding the GIL in a C sleep
(so a dump marks it "Current thread"). Python 3 writes its own all-threads dump first
(faulthandler.dump_traceback from the main thread, "sync" marker); Python 2.7 has no
faulthandler ("idle" marker). Same ready protocol as pd_common.py."""
import ctypes

import core_common as common

_sleep = common.libc.sleep
_sleep.argtypes = (ctypes.c_uint,)
_sleep.restype = ctypes.c_uint


def hold_gil_inner():
    try:
        import faulthandler
    except ImportError:
        common.write_marker("idle\n")
        _sleep(common.FOREVER)
        return
    dump = open(common.DUMP_PATH, "w")
    # One line: the frame is the same while dumping and while sleeping with the GIL held.
    faulthandler.dump_traceback(dump, all_threads=True); dump.flush(); common.write_marker("sync\n"); _sleep(common.FOREVER)  # noqa: E501,E702


def hold_gil_outer():
    hold_gil_inner()


def main():
    common.park_workers()
    common.wait_parked()
    hold_gil_outer()


main()
