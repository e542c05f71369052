# Sourced by gdb (-x) in native_test.cc: every thread's frames, as gdb's `bt` walks them, with
# each frame's kind, which `bt` does not print (tail-call frames are gdb's own reconstruction
# from DWARF call-site information: no return address of theirs is on the stack).
#   THREAD <lwp>
#   FRAME <normal|inline|tailcall|sigtramp|other> <pc in hex> <function or ?>
import gdb

KINDS = {gdb.NORMAL_FRAME: "normal", gdb.INLINE_FRAME: "inline", gdb.TAILCALL_FRAME: "tailcall",
         gdb.SIGTRAMP_FRAME: "sigtramp"}

for inferior in gdb.inferiors():
    for thread in sorted(inferior.threads(), key=lambda t: t.num):
        thread.switch()
        print("THREAD %d" % thread.ptid[1])
        frame = gdb.newest_frame()
        while frame is not None:
            print("FRAME %s %#x %s" % (KINDS.get(frame.type(), "other"), frame.pc(),
                                       frame.name() or "?"))
            frame = frame.older()
