/*
 * A Criterion-compatible test runner for ThreadSanitizer builds.
 *
 * Criterion's sandbox (BoxFort) cannot map its inheritable arena under TSan (upstream Criterion
 * issue #274: "Could not initialize inheritable arena"), so in the TSan configuration the same test
 * sources are compiled against this header instead of the real one (tests/meson.build puts this
 * directory first on the include path). It implements the subset of Criterion the suites use:
 * Test() with .init, .fini, .timeout and .disabled, the cr_assert_* / cr_expect_* family, cr_log_*,
 * cr_skip_test. Every test runs in its own forked child (as Criterion does), so global state does
 * not leak between tests, and the runner prints Criterion's "Synthesis" line. Test code only.
 */
#ifndef BF_TSAN_CRITERION_H
#define BF_TSAN_CRITERION_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct shim_opts {
    void (*init)(void);
    void (*fini)(void);
    double timeout;
    bool disabled;
    const char *description;
    int exit_code;
    int signal;
};

void shim_register(const char *suite, const char *name, void (*fn)(void),
                   const struct shim_opts *opts);
void shim_fail(const char *file, int line, bool fatal, const char *expr, const char *fmt, ...);
void shim_log(const char *level, const char *fmt, ...);
void shim_skip(const char *fmt, ...);

#define Test(suite, name, ...)                                                                     \
    static void suite##_##name##_fn(void);                                                         \
    static const struct shim_opts suite##_##name##_opts = { __VA_ARGS__ };                         \
    __attribute__((constructor)) static void suite##_##name##_reg(void)                            \
    {                                                                                              \
        shim_register(#suite, #name, suite##_##name##_fn, &suite##_##name##_opts);                 \
    }                                                                                              \
    static void suite##_##name##_fn(void)

#define TestSuite(...) struct shim_unused_suite_decl

#define SHIM_CHECK(fatal, cond, expr, ...)                                                         \
    do {                                                                                           \
        if (!(cond))                                                                               \
            shim_fail(__FILE__, __LINE__, fatal, expr, "" __VA_ARGS__);                            \
    } while (0)

#define cr_assert(cond, ...)     SHIM_CHECK(true, cond, #cond, __VA_ARGS__)
#define cr_expect(cond, ...)     SHIM_CHECK(false, cond, #cond, __VA_ARGS__)
#define cr_assert_not(cond, ...) SHIM_CHECK(true, !(cond), "!(" #cond ")", __VA_ARGS__)
#define cr_expect_not(cond, ...) SHIM_CHECK(false, !(cond), "!(" #cond ")", __VA_ARGS__)
#define cr_assert_fail(...)      SHIM_CHECK(true, 0, "cr_assert_fail", __VA_ARGS__)
#define cr_expect_fail(...)      SHIM_CHECK(false, 0, "cr_expect_fail", __VA_ARGS__)

#define SHIM_CMP(fatal, a, op, b, ...) SHIM_CHECK(fatal, (a)op(b), #a " " #op " " #b, __VA_ARGS__)
#define cr_assert_eq(a, b, ...)        SHIM_CMP(true, a, ==, b, __VA_ARGS__)
#define cr_assert_neq(a, b, ...)       SHIM_CMP(true, a, !=, b, __VA_ARGS__)
#define cr_assert_lt(a, b, ...)        SHIM_CMP(true, a, <, b, __VA_ARGS__)
#define cr_assert_leq(a, b, ...)       SHIM_CMP(true, a, <=, b, __VA_ARGS__)
#define cr_assert_gt(a, b, ...)        SHIM_CMP(true, a, >, b, __VA_ARGS__)
#define cr_assert_geq(a, b, ...)       SHIM_CMP(true, a, >=, b, __VA_ARGS__)
#define cr_expect_eq(a, b, ...)        SHIM_CMP(false, a, ==, b, __VA_ARGS__)
#define cr_expect_neq(a, b, ...)       SHIM_CMP(false, a, !=, b, __VA_ARGS__)
#define cr_expect_lt(a, b, ...)        SHIM_CMP(false, a, <, b, __VA_ARGS__)
#define cr_expect_leq(a, b, ...)       SHIM_CMP(false, a, <=, b, __VA_ARGS__)
#define cr_expect_gt(a, b, ...)        SHIM_CMP(false, a, >, b, __VA_ARGS__)
#define cr_expect_geq(a, b, ...)       SHIM_CMP(false, a, >=, b, __VA_ARGS__)

#define cr_assert_null(p, ...)     SHIM_CHECK(true, (p) == NULL, #p " == NULL", __VA_ARGS__)
#define cr_assert_not_null(p, ...) SHIM_CHECK(true, (p) != NULL, #p " != NULL", __VA_ARGS__)
#define cr_expect_null(p, ...)     SHIM_CHECK(false, (p) == NULL, #p " == NULL", __VA_ARGS__)
#define cr_expect_not_null(p, ...) SHIM_CHECK(false, (p) != NULL, #p " != NULL", __VA_ARGS__)

#define SHIM_STR(fatal, a, op, b, ...)                                                             \
    SHIM_CHECK(fatal, strcmp((a), (b)) op 0, "strcmp(" #a ", " #b ") " #op " 0", __VA_ARGS__)
#define cr_assert_str_eq(a, b, ...)  SHIM_STR(true, a, ==, b, __VA_ARGS__)
#define cr_assert_str_neq(a, b, ...) SHIM_STR(true, a, !=, b, __VA_ARGS__)
#define cr_expect_str_eq(a, b, ...)  SHIM_STR(false, a, ==, b, __VA_ARGS__)
#define cr_expect_str_neq(a, b, ...) SHIM_STR(false, a, !=, b, __VA_ARGS__)

#define cr_assert_arr_eq(a, b, size, ...)                                                          \
    SHIM_CHECK(true, memcmp((a), (b), (size)) == 0, "memcmp(" #a ", " #b ") == 0", __VA_ARGS__)
#define cr_expect_arr_eq(a, b, size, ...)                                                          \
    SHIM_CHECK(false, memcmp((a), (b), (size)) == 0, "memcmp(" #a ", " #b ") == 0", __VA_ARGS__)

#define SHIM_NEAR(a, b, eps) ((a) - (b) <= (eps) && (b) - (a) <= (eps))
#define cr_assert_float_eq(a, b, eps, ...)                                                         \
    SHIM_CHECK(true, SHIM_NEAR(a, b, eps), #a " ~= " #b, __VA_ARGS__)
#define cr_expect_float_eq(a, b, eps, ...)                                                         \
    SHIM_CHECK(false, SHIM_NEAR(a, b, eps), #a " ~= " #b, __VA_ARGS__)

#define cr_log_info(...)  shim_log("info", __VA_ARGS__)
#define cr_log_warn(...)  shim_log("warn", __VA_ARGS__)
#define cr_log_error(...) shim_log("error", __VA_ARGS__)
#define cr_skip_test(...) shim_skip("" __VA_ARGS__)

#endif
