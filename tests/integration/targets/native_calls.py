"""Scenario "native calls": threads blocked in C code that is not the interpreter's own.

   python -B native_calls.py OUT_DIR [EXT_DIR]

- a thread blocked in a ctypes call into libc (pause(), through libffi's ffi_call), under nested
  Python calls;
- a thread that calls native_ext.call (targets/native_ext.c, a C extension the test built into
  EXT_DIR), which calls back into Python, where the callback blocks in time.sleep: its stack has
  Python frames above and below the extension's C frame (native_call).
When EXT_DIR is not given or native_ext cannot be imported from it (no compiler, no Python.h),
the second thread is not started and that is recorded with pd_common.skip_feature.
"""
import ctypes
import os
import sys
import time

import pd_common as common


def libc_inner(started):
    libc = ctypes.CDLL(None)  # CDLL: the call releases the GIL
    started.set()
    libc.pause()


def libc_middle(started):
    libc_inner(started)


def libc_outer(started):
    libc_middle(started)


def callback_inner(started):
    started.set()
    time.sleep(common.FOREVER)


def extension_call(started, native_ext):
    def callback():
        callback_inner(started)

    native_ext.call(callback)


def extension_outer(started, native_ext):
    extension_call(started, native_ext)


def import_extension():
    if not common.ARGS or not common.ARGS[0]:
        common.skip_feature("native_ext (a C extension calling back into Python): not built")
        return None
    ext_dir = common.ARGS[0]
    sys.path.insert(0, ext_dir)
    try:
        import native_ext
    except ImportError as e:
        common.skip_feature("native_ext (a C extension calling back into Python): cannot import "
                            "it from %s: %s" % (ext_dir, e))
        return None
    finally:
        sys.path.remove(ext_dir)
    if not os.path.dirname(os.path.abspath(native_ext.__file__)) == os.path.abspath(ext_dir):
        common.fail("native_ext imported from %s, not %s" % (native_ext.__file__, ext_dir))
    return native_ext


def main():
    native_ext = import_extension()
    common.start(libc_outer)
    if native_ext is not None:
        common.start(extension_outer, native_ext)
    common.finish_with_watchdog()


main()
