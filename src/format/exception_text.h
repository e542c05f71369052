// --exceptions: a thread's handled exception as the target's own traceback module prints it:
// Printed after the exception-only line of a 3.12+ NameError, AttributeError or ImportError
// (ExceptionValue::suggestion_not_computed): traceback may have appended a suggestion there.
inline constexpr const char* kSuggestionMarker =
    "<pystack-dump: traceback may append \". Did you mean: '...'?\" to this line; the names it "
    "would search are not read>";

// ''.join(traceback.format_exception(exc)) (Lib/traceback.py: TracebackException with
// compact=True, its format() and format_exception_only()), chains, notes and exception groups
// included. A pure function of the snapshot's values and linecache's lines.
#pragma once

#include <string>

#include "snapshot/snapshot.h"
#include "snapshot/source_lines.h"

namespace pystack {

// Printed right after the exception-only line of a value whose class defines __str__ in Python
// (ExceptionValue::str_overridden): the message shown is not the one the target would print.
inline constexpr const char* kStrOverriddenMarker =
    "<pystack-dump: str() of this exception is defined in Python and was not run: the message "
    "shown is BaseException.__str__(exc)>";

// ''.join(traceback.format_exception(exc)) as the target's CPython version returns it, for a
// thread's handled exception; text as print() writes it to a UTF-8 stream with errors=
// backslashreplace (see format/python_text.h and how traceback.cc appends target strings).
// Indexes that point nowhere are None; cycles end where TracebackException's _seen ends them;
// the work is bounded whatever the values hold (a group that lists itself, huge chains).
std::string format_exception_text(const PythonVersion& version, const HandledException& exception,
                                  const SourceLines& sources);

}  // namespace pystack
