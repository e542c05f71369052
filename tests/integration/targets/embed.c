/* A program that embeds CPython, for the integration tests (tests/integration/builds_test.cc
 * compiles it against each interpreter's libpython with python-config).
 *
 * Usage: embed TARGETS_DIR SCRIPT OUT_DIR [ARGS...]
 * Runs TARGETS_DIR/SCRIPT inside the embedded interpreter with sys.argv = [SCRIPT, OUT_DIR,
 * ARGS...] and TARGETS_DIR first on sys.path: the same contract as `python -B SCRIPT OUT_DIR`.
 * The script never returns (it parks and is killed). Python 3.6+. */
#include <Python.h>

#include <stdio.h>

static PyObject* decoded(const char* text) { return PyUnicode_DecodeFSDefault(text); }

/* sys.path[0:0] = [targets]; sys.argv = [script, out_dir, args...]. 0 on success. */
static int set_up_sys(const char* targets, int argc, char** argv) {
  PyObject* path = PySys_GetObject("path"); /* borrowed */
  PyObject* dir = decoded(targets);
  if (path == NULL || dir == NULL || PyList_Insert(path, 0, dir) != 0) return -1;
  Py_DECREF(dir);
  PyObject* args = PyList_New(0);
  if (args == NULL) return -1;
  for (int i = 0; i < argc; ++i) {
    PyObject* arg = decoded(argv[i]);
    if (arg == NULL || PyList_Append(args, arg) != 0) return -1;
    Py_DECREF(arg);
  }
  int rc = PySys_SetObject("argv", args);
  Py_DECREF(args);
  return rc;
}

int main(int argc, char** argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s TARGETS_DIR SCRIPT OUT_DIR [ARGS...]\n", argv[0]);
    return 2;
  }
  char script[4096];
  if (snprintf(script, sizeof script, "%s/%s", argv[1], argv[2]) >= (int)sizeof script) {
    fprintf(stderr, "embed: path too long\n");
    return 2;
  }
  Py_Initialize();
  argv[2] = script;
  if (set_up_sys(argv[1], argc - 2, argv + 2) != 0) {
    PyErr_Print();
    return 3;
  }
  FILE* file = fopen(script, "r");
  if (file == NULL) {
    perror(script);
    return 3;
  }
  int rc = PyRun_SimpleFileExFlags(file, script, /*closeit=*/1, NULL);
  Py_Finalize();
  return rc == 0 ? 0 : 3;
}
