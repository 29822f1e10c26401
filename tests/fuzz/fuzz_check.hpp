#pragma once
/// Invariant checks for the libFuzzer targets: a broken invariant prints what broke and aborts,
/// which libFuzzer reports as a crash and saves the input as a reproducer.

#include <cstdio>
#include <cstdlib>
#include <string>

namespace clat::test {

/// Prints "FILE:LINE: invariant broken: WHAT" and DETAIL (bytes other than printable ASCII and
/// newlines as \xNN), then aborts.
[[noreturn]] inline void fuzz_fail(const char* what, const std::string& detail, const char* file,
                                   int line) {
    std::string shown;
    for (unsigned char c : detail) {
        if ((c >= 0x20 && c < 0x7f) || c == '\n') {
            shown += static_cast<char>(c);
        } else {
            char escaped[8];
            std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
            shown += escaped;
        }
    }
    std::fprintf(stderr, "%s:%d: invariant broken: %s\n%s\n", file, line, what, shown.c_str());
    std::abort();
}

}  // namespace clat::test

/// Aborts with the condition's text and an optional detail string when cond is false.
#define FUZZ_CHECK(cond, ...)                                                               \
    do {                                                                                    \
        if (!(cond))                                                                        \
            ::clat::test::fuzz_fail(#cond, ::std::string(__VA_ARGS__), __FILE__, __LINE__); \
    } while (false)
