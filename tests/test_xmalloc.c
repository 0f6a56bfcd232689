/* The one out-of-memory policy: allocation either succeeds or the process
 * says "out of memory" and aborts; it never hands back NULL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "sockpit/proto/xmalloc.h"

static void test_xmalloc_zero_sizes_give_freeable_memory(void **state)
{
    void *a = sp_xmalloc(0);
    void *b = sp_xcalloc(0, 8);
    void *c = sp_xreallocarray(NULL, 0, 8);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    free(a);
    free(b);
    free(c);
}

static void test_xcalloc_zeroes_and_xreallocarray_keeps_contents(void **state)
{
    unsigned char *p = sp_xcalloc(100, 1);
    for (size_t i = 0; i < 100; i++)
        assert_int_equal(p[i], 0);
    memset(p, 7, 100);
    p = sp_xreallocarray(p, 1000, 4);
    for (size_t i = 0; i < 100; i++)
        assert_int_equal(p[i], 7);
    free(p);
}

static void test_xstrdup_and_xstrndup_copy(void **state)
{
    char *a = sp_xstrdup("hello");
    char *b = sp_xstrndup("hello", 3);
    char *c = sp_xstrndup("hi", 10);
    assert_string_equal(a, "hello");
    assert_string_equal(b, "hel");
    assert_string_equal(c, "hi");
    free(a);
    free(b);
    free(c);
}

/* Runs fn in a child with stderr on a pipe; returns what the child wrote and
 * sets *sig to the signal that ended it (0 if it exited). */
static void run_child(void (*fn)(void), char *out, size_t outlen, int *sig)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        signal(SIGABRT, SIG_DFL);
        fn();
        _exit(0);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < outlen && (r = read(fds[0], out + n, outlen - 1 - n)) > 0)
        n += (size_t)r;
    out[n] = '\0';
    close(fds[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    *sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
}

static void overflow_array(void)
{
    volatile size_t n = SIZE_MAX / 2 + 1;
    (void)sp_xreallocarray(NULL, n, 4);
}

static void test_xreallocarray_overflow_aborts_with_a_message(void **state)
{
    char out[256];
    int sig;
    run_child(overflow_array, out, sizeof out, &sig);
    assert_int_equal(sig, SIGABRT);
    assert_non_null(strstr(out, "sockpit: out of memory"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xmalloc_zero_sizes_give_freeable_memory),
        cmocka_unit_test(test_xcalloc_zeroes_and_xreallocarray_keeps_contents),
        cmocka_unit_test(test_xstrdup_and_xstrndup_copy),
        cmocka_unit_test(test_xreallocarray_overflow_aborts_with_a_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
