/* Benchmark client: N short connections to an echo server on
 * 127.0.0.1:PORT, one after the other. Each connects, sends a 12-byte line,
 * reads it back and closes. Stops at the first connection that fails or whose
 * echo does not come back within 5 s, or after TIMEOUT_S seconds in all.
 * Prints "done seconds": how many connections completed, and in what time.
 *
 * usage: shortconn PORT N [TIMEOUT_S]   (TIMEOUT_S defaults to 300)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char line[] = "hello, echo\n";

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One connection: 0 when its echo came back whole. */
static int one(const struct sockaddr_in *sa)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int rc = -1;
    size_t n = sizeof line - 1, got = 0;
    char buf[sizeof line];
    if (connect(fd, (const struct sockaddr *)sa, sizeof *sa) != 0 ||
        write(fd, line, n) != (ssize_t)n)
        goto out;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            goto out;
        got += (size_t)r;
    }
    rc = memcmp(buf, line, n) == 0 ? 0 : -1;
out:
    close(fd);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s PORT N [TIMEOUT_S]\n", argv[0]);
        return 2;
    }
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)atoi(argv[1]));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    long want = atol(argv[2]);
    double limit = argc > 3 ? atof(argv[3]) : 300.0;
    double t0 = now();
    long done = 0;
    while (done < want && now() - t0 < limit && one(&sa) == 0)
        done++;
    printf("%ld %.6f\n", done, now() - t0);
    return done == want ? 0 : 1;
}
