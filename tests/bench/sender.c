/* Benchmark sender: connects to 127.0.0.1:PORT (retrying while the sink
 * starts), writes TOTAL bytes in 256 KiB writes, shuts down its sending side
 * and waits until the sink closes the connection, which proves everything was
 * consumed. Prints "bytes seconds MB/s".
 *
 * usage: sender PORT TOTAL_MIB [raw|len64]
 *   raw    arbitrary bytes
 *   len64  a stream of len:u32be messages with 60-byte bodies (64 bytes each)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (256 * 1024)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int connect_retry(int port)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < 500; i++) { /* up to 5 s */
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0)
            return -1;
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
            return fd;
        close(fd);
        usleep(10000);
    }
    return -1;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s PORT TOTAL_MIB [raw|len64]\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[1]);
    uint64_t total = (uint64_t)strtoull(argv[2], NULL, 10) * 1024 * 1024;
    int len64 = argc > 3 && strcmp(argv[3], "len64") == 0;

    unsigned char *buf = malloc(CHUNK);
    if (buf == NULL)
        return 1;
    for (size_t i = 0; i < CHUNK; i++)
        buf[i] = (unsigned char)('a' + i % 26);
    if (len64) {
        /* CHUNK is a multiple of 64, so every write holds whole messages. */
        for (size_t i = 0; i < CHUNK; i += 64) {
            buf[i] = 0;
            buf[i + 1] = 0;
            buf[i + 2] = 0;
            buf[i + 3] = 60;
        }
    }

    int fd = connect_retry(port);
    if (fd < 0) {
        perror("connect");
        return 1;
    }
    double t0 = now();
    uint64_t sent = 0;
    while (sent < total) {
        size_t n = total - sent < CHUNK ? (size_t)(total - sent) : CHUNK;
        size_t done = 0;
        while (done < n) {
            ssize_t w = write(fd, buf + done, n - done);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                perror("write");
                return 1;
            }
            done += (size_t)w;
        }
        sent += n;
    }
    shutdown(fd, SHUT_WR);
    /* Wait for the sink to close: it has read everything by then. */
    char tmp[4096];
    while (read(fd, tmp, sizeof tmp) > 0)
        ;
    double dt = now() - t0;
    close(fd);
    printf("%llu %.6f %.1f\n", (unsigned long long)sent, dt, (double)sent / dt / 1e6);
    free(buf);
    return 0;
}
