/* A program that embeds CPython in states a Python script cannot reach, for
 * tests/integration/failures_test.cc (built against an interpreter's libpython with python-config).
 *
 * Usage: embed_states MODE READY_FILE
 *   before-init     libpython loaded, Py_Initialize not called yet (a process starting up)
 *   after-finalize  Py_Initialize then Py_Finalize (a process shutting down)
 *   vfork-thread    Python running, and a C thread of its waiting in vfork() for a child that
 *                   sleeps 30 s: a thread that cannot stop (ptrace cannot interrupt that wait)
 * Creates READY_FILE when in that state, then parks until killed. */
#define _GNU_SOURCE
#include <Python.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void* vfork_and_wait(void* unused) {
  (void)unused;
  /* Raw syscalls only in the child: it borrows this thread's stack until it exits. */
  if (syscall(SYS_vfork) == 0) {
    static const struct timespec kThirtySeconds = {30, 0};
    syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    syscall(SYS_nanosleep, &kThirtySeconds, NULL);
    syscall(SYS_exit, 0);
  }
  for (;;) pause();
  return NULL;
}

static int mark_ready(const char* path) {
  FILE* file = fopen(path, "w");
  if (file == NULL) {
    perror(path);
    return -1;
  }
  fputs("ready\n", file);
  return fclose(file);
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s before-init|after-finalize|vfork-thread READY_FILE\n", argv[0]);
    return 2;
  }
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  const char* mode = argv[1];
  if (strcmp(mode, "after-finalize") == 0) {
    Py_Initialize();
    Py_Finalize();
  } else if (strcmp(mode, "vfork-thread") == 0) {
    Py_Initialize();
    pthread_t thread;
    if (pthread_create(&thread, NULL, vfork_and_wait, NULL) != 0) return 3;
    static const struct timespec kSettle = {0, 100 * 1000 * 1000};
    nanosleep(&kSettle, NULL); /* the vfork has happened */
  } else if (strcmp(mode, "before-init") != 0) {
    fprintf(stderr, "embed_states: unknown mode %s\n", mode);
    return 2;
  }
  if (mark_ready(argv[2]) != 0) return 3;
  for (;;) pause();
}
