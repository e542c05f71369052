/* native_ext: a C extension for targets/native_calls.py, built by tests/integration/native_test.cc
 * (gcc -shared -fPIC -O1 -g -I<the interpreter's include dir>). native_ext.call(callable) calls
 * back into Python from C, so that a thread blocked in the callback has Python frames both above
 * and below the C frame of native_call. Builds against CPython 3.6 to 3.15.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* Not a tail call (the result is looked at after the call), so native_call keeps its own frame
 * under PyObject_CallObject's. */
static PyObject* native_call(PyObject* self, PyObject* callable) {
  (void)self;
  PyObject* result = PyObject_CallObject(callable, NULL);
  if (result == NULL) return NULL;
  Py_DECREF(result);
  Py_RETURN_NONE;
}

static PyMethodDef native_ext_methods[] = {
    {"call", native_call, METH_O, "call(callable): calls callable() from C, returns None."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef native_ext_module = {
    PyModuleDef_HEAD_INIT, "native_ext", "Calls back into Python from C.", -1, native_ext_methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit_native_ext(void) { return PyModule_Create(&native_ext_module); }
