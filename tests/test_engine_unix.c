/* Unix stream sockets: round trips (paths and abstract names), the file
 * mode, the stale-socket rule, refused paths. */
#include "test_engine_util.h"

#include <sys/stat.h>

static void tmp_path(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "/tmp/sp-test-%d-%s", (int)getpid(), name);
    unlink(buf);
}

static uint32_t listen_unix(struct sp_engine *eng, const char *path, int *rc, char *err,
                            size_t errlen)
{
    char text[160];
    snprintf(text, sizeof text, "unix:%s", path);
    struct sp_addr a = te_addr(text);
    uint32_t id = 0;
    *rc = sp_engine_listen(eng, &a, NULL, &id, err, errlen);
    return id;
}

static void round_trip(const char *path)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    char err[200], text[160];
    int rc;
    uint32_t l = listen_unix(eng, path, &rc, err, sizeof err);
    assert_int_equal(rc, 0);
    assert_string_equal(te_nth(&r, SP_EV_LISTENING, l, 0)->local, path);
    snprintf(text, sizeof text, "unix:%s", path);
    struct sp_addr a = te_addr(text);
    uint32_t c;
    assert_int_equal(sp_engine_connect(eng, &a, NULL, &c, err, sizeof err), 0);
    assert_true(te_wait(eng, &r, SP_EV_CONNECTED, c, 1, 2000));
    assert_true(te_wait(eng, &r, SP_EV_ACCEPTED, 0, 1, 2000));
    uint32_t s = te_nth(&r, SP_EV_ACCEPTED, 0, 0)->ev.sock;
    assert_int_equal(te_nth(&r, SP_EV_ACCEPTED, 0, 0)->ev.parent, l);
    assert_int_equal(te_nth(&r, SP_EV_ACCEPTED, 0, 0)->ev.kind, SP_SOCK_UNIX);
    te_send(eng, c, "over unix", 9);
    assert_true(te_wait_bytes(eng, &r, s, 9, 2000));
    te_send(eng, s, "back", 4);
    assert_true(te_wait_bytes(eng, &r, c, 4, 2000));
    assert_int_equal(sp_engine_shutdown(eng, c, SP_SHUT_WR, err, sizeof err), 0);
    assert_true(te_wait(eng, &r, SP_EV_EOF, s, 1, 2000));
    assert_int_equal(te_count(&r, SP_EV_STATE, c), 0); /* no TCP states on Unix sockets */
    struct sp_kinfo k;
    assert_int_equal(sp_engine_kinfo(eng, c, &k, err, sizeof err), 0);
    assert_int_equal(k.rtt_us, -1);
    assert_int_equal(k.nodelay, -1);
    assert_true(k.sndbuf > 0);
    assert_true(sp_engine_setopt(eng, c, SP_OPT_NODELAY, 1, err, sizeof err) < 0);
    te_done(eng, &r);
}

static void test_unix_stream_round_trip(void **state)
{
    char path[108];
    tmp_path(path, sizeof path, "st");
    round_trip(path);
    struct stat st;
    assert_int_equal(lstat(path, &st), -1); /* removed when the listener closed */
}

static void test_unix_abstract_round_trip(void **state)
{
    char name[64];
    snprintf(name, sizeof name, "@sp-test-%d", (int)getpid());
    round_trip(name);
}

static void test_unix_listener_mode_0600(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    char path[108], err[200];
    tmp_path(path, sizeof path, "mode");
    int rc;
    listen_unix(eng, path, &rc, err, sizeof err);
    assert_int_equal(rc, 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0600);
    te_done(eng, &r);
}

/* A socket file nobody listens on is stale: replaced, with a notice. */
static void test_unix_stale_socket_replaced(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    char path[108], err[200];
    tmp_path(path, sizeof path, "stale");
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un su = {.sun_family = AF_UNIX};
    strcpy(su.sun_path, path);
    assert_int_equal(bind(fd, (struct sockaddr *)&su, sizeof su), 0);
    close(fd); /* the file stays behind */
    int rc;
    uint32_t l = listen_unix(eng, path, &rc, err, sizeof err);
    assert_int_equal(rc, 0);
    const struct rec *n = te_nth(&r, SP_EV_NOTICE, l, 0);
    assert_non_null(n);
    assert_non_null(strstr(n->message, "stale"));
    /* And it works. */
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&su, sizeof su), 0);
    assert_true(te_wait(eng, &r, SP_EV_ACCEPTED, 0, 1, 2000));
    close(fd);
    te_done(eng, &r);
}

/* A live socket, a regular file and a symlink are refused and left alone. */
static void test_unix_refuses_live_file_symlink(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    char path[108], err[200];
    int rc;

    tmp_path(path, sizeof path, "file");
    FILE *f = fopen(path, "w");
    fputs("precious", f);
    fclose(f);
    listen_unix(eng, path, &rc, err, sizeof err);
    assert_int_equal(rc, -EEXIST);
    assert_non_null(strstr(err, "not a socket"));
    char buf[16] = "";
    f = fopen(path, "r");
    assert_non_null(fgets(buf, sizeof buf, f));
    fclose(f);
    assert_string_equal(buf, "precious");
    unlink(path);

    char link[108];
    tmp_path(link, sizeof link, "link");
    assert_int_equal(symlink("/tmp", link), 0);
    listen_unix(eng, link, &rc, err, sizeof err);
    assert_int_equal(rc, -EEXIST);
    assert_non_null(strstr(err, "symbolic link"));
    struct stat st;
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    unlink(link);

    tmp_path(path, sizeof path, "live");
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un su = {.sun_family = AF_UNIX};
    strcpy(su.sun_path, path);
    assert_int_equal(bind(fd, (struct sockaddr *)&su, sizeof su), 0);
    assert_int_equal(listen(fd, 1), 0);
    listen_unix(eng, path, &rc, err, sizeof err);
    assert_int_equal(rc, -EADDRINUSE);
    assert_non_null(strstr(err, "live"));
    assert_int_equal(lstat(path, &st), 0);
    close(fd);
    unlink(path);
    assert_int_equal(sp_engine_last_id(eng), 0); /* nothing was created */
    te_done(eng, &r);
}

/* Paths longer than sun_path are errors, never truncated; the longest
 * that fits works. */
static void test_unix_overlong_path_refused(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    char text[300], err[200];
    /* 108 path bytes leave no room for the terminator in sun_path */
    memset(text, 'a', sizeof text);
    memcpy(text, "unix:/tmp/", 10);
    text[5 + 108] = '\0';
    struct sp_addr a;
    assert_int_not_equal(sp_addr_parse(&a, text, err, sizeof err), 0);
    text[5 + 200] = '\0';
    memset(text + 5 + 108, 'a', 92);
    assert_int_not_equal(sp_addr_parse(&a, text, err, sizeof err), 0);
    /* an abstract name of 107 bytes (the NUL plus 106) is the most that fits */
    snprintf(text, sizeof text, "unix:@sp-%d-", (int)getpid());
    size_t n = strlen(text);
    memset(text + n, 'z', 5 + 107 - n);
    text[5 + 107] = '\0';
    a = te_addr(text);
    assert_int_equal(strlen(a.path), 107);
    uint32_t id = 0;
    assert_int_equal(sp_engine_listen(eng, &a, NULL, &id, err, sizeof err), 0);
    uint32_t c;
    assert_int_equal(sp_engine_connect(eng, &a, NULL, &c, err, sizeof err), 0);
    assert_true(te_wait(eng, &r, SP_EV_ACCEPTED, 0, 1, 2000));
    te_done(eng, &r);
}

/* Connecting to a path nobody listens on: error then closed. */
static void test_unix_connect_missing(void **state)
{
    struct recorder r;
    struct sp_engine *eng = te_engine(&r, 0);
    char path[108], text[160], err[200];
    tmp_path(path, sizeof path, "missing");
    snprintf(text, sizeof text, "unix:%s", path);
    struct sp_addr a = te_addr(text);
    uint32_t c;
    assert_int_equal(sp_engine_connect(eng, &a, NULL, &c, err, sizeof err), 0);
    assert_int_equal(te_count(&r, SP_EV_ERROR, c), 0); /* outcomes come later */
    assert_true(te_wait(eng, &r, SP_EV_CLOSED, c, 1, 2000));
    assert_string_equal(te_nth(&r, SP_EV_ERROR, c, 0)->code, "ENOENT");
    assert_string_equal(te_nth(&r, SP_EV_CLOSED, c, 0)->reason, "connect failed");
    te_done(eng, &r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unix_stream_round_trip),
        cmocka_unit_test(test_unix_abstract_round_trip),
        cmocka_unit_test(test_unix_listener_mode_0600),
        cmocka_unit_test(test_unix_stale_socket_replaced),
        cmocka_unit_test(test_unix_refuses_live_file_symlink),
        cmocka_unit_test(test_unix_overlong_path_refused),
        cmocka_unit_test(test_unix_connect_missing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
