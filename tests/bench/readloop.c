/* Benchmark floor: the least a sink can do. Listens on 127.0.0.1:PORT,
 * accepts one connection, read()s it in READ_SIZE pieces until EOF and
 * closes it. No poll, no bookkeeping: sockpit's CPU per GiB is compared with
 * this at the same read size.
 *
 * usage: readloop PORT [READ_SIZE]   (READ_SIZE defaults to 65536, sockpit's
 * default recv size)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int listen_on(int port)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 1) != 0)
        return -1;
    return fd;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PORT [READ_SIZE]\n", argv[0]);
        return 2;
    }
    size_t size = argc > 2 ? (size_t)strtoul(argv[2], NULL, 10) : 65536;
    if (size == 0)
        return 2;
    unsigned char *buf = malloc(size);
    int lfd = listen_on(atoi(argv[1]));
    if (buf == NULL || lfd < 0) {
        perror("readloop");
        return 1;
    }
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0) {
        perror("accept");
        return 1;
    }
    close(lfd);
    for (;;) {
        ssize_t r = read(fd, buf, size);
        if (r > 0)
            continue;
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            perror("read");
            return 1;
        }
        break;
    }
    close(fd);
    free(buf);
    return 0;
}
