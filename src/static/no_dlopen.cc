// Linked into build/pystack-dump-static only, with -Wl,--wrap=dlopen (see the Makefile): libdw's
// debuginfod client dlopen()s libdebuginfod.so.1 whenever --native finds no local debug file,
// which in a static program loads a second libc (the container's): the process dies. Debuginfod
// is never asked by pystack-dump, so the library is "not found".
extern "C" void* __wrap_dlopen(const char*, int) { return nullptr; }
