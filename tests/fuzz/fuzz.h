/*
 * fuzz: what the libFuzzer targets in tests/fuzz/ share. Each target defines
 * LLVMFuzzerTestOneInput(); it is linked either with libFuzzer (-Dfuzz=true, clang) or with
 * regress.c, the Criterion driver that feeds it every file under tests/data/fuzz/<target>/ in every
 * normal build. A broken invariant calls fuzz_fail(), which prints the reason and aborts: libFuzzer
 * then saves the input as a crash, and the Criterion driver's test fails. Test code only.
 */
#ifndef BF_FUZZ_H
#define BF_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The name of the input being run, when known (set by the regression driver); for messages. */
extern const char *fuzz_input_name;

/* Print "fuzz invariant broken: <message>" with the input's name and abort. */
__attribute__((noreturn, format(printf, 1, 2))) void fuzz_fail(const char *fmt, ...);

#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fuzz_fail(__VA_ARGS__);                                                                \
    } while (0)

/* An exact-size heap copy of p[0..n) (no NUL after it), so ASan sees any read past the end. */
char *fuzz_dup(const void *p, size_t n);
/* A NUL-terminated copy of p[0..n) (an embedded NUL ends the string early). */
char *fuzz_strdup(const void *p, size_t n);
/* True when s[0..n) is valid UTF-8 (shortest form, no surrogates, at most U+10FFFF). */
int fuzz_utf8_ok(const char *s, size_t n);

#endif
