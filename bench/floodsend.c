/*
 * floodsend: a junk UDP flood from one source address, for bench/flood_bench.py (loopback only).
 *
 * Binds SRC (a 127.0.0.0/8 address), sends the same non-SIP datagram to 127.0.0.1:PORT at
 * RATE packets/s for SECONDS (bounded), in sendmmsg batches paced against CLOCK_MONOTONIC,
 * then prints one JSON line: {"sent": N, "seconds": S, "rate": N/S}.
 *
 * build: gcc -O2 -o floodsend floodsend.c
 * usage: floodsend SRC PORT RATE SECONDS
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 16

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s SRC PORT RATE SECONDS\n", argv[0]);
        return 2;
    }
    double rate = atof(argv[3]), seconds = atof(argv[4]);
    if (rate <= 0 || rate > 1e6 || seconds <= 0 || seconds > 600) {
        fprintf(stderr, "RATE must be in (0, 1e6] and SECONDS in (0, 600]\n");
        return 2;
    }
    struct sockaddr_in src = {.sin_family = AF_INET}, dst = {.sin_family = AF_INET};
    if (inet_pton(AF_INET, argv[1], &src.sin_addr) != 1 || (ntohl(src.sin_addr.s_addr) >> 24) != 127) {
        fprintf(stderr, "SRC must be a 127.0.0.0/8 address\n");
        return 2;
    }
    dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    dst.sin_port = htons((unsigned short)atoi(argv[2]));
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&src, sizeof src) < 0 ||
        connect(fd, (struct sockaddr *)&dst, sizeof dst) < 0) {
        perror("socket");
        return 1;
    }
    static const char junk[] =
        "XINVITE sip:flood@127.0.0.1 SIP/2.0\r\nVia: junk\r\nthis is not a SIP message\r\n\r\n";
    struct iovec iov = {.iov_base = (void *)junk, .iov_len = sizeof junk - 1};
    struct mmsghdr msgs[BATCH];
    memset(msgs, 0, sizeof msgs);
    for (int i = 0; i < BATCH; i++) {
        msgs[i].msg_hdr.msg_iov = &iov;
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    long total = (long)(rate * seconds), sent = 0;
    double start = now();
    while (sent < total) {
        double due = start + sent / rate;
        double t = now();
        if (t < due) {
            struct timespec pause = {0, (long)((due - t) * 1e9)};
            nanosleep(&pause, NULL);
            continue;
        }
        int n = (int)(total - sent < BATCH ? total - sent : BATCH);
        int done = sendmmsg(fd, msgs, n, 0);
        sent += done > 0 ? done : n; /* a full socket buffer drops like the network would */
    }
    double took = now() - start;
    printf("{\"sent\": %ld, \"seconds\": %.3f, \"rate\": %.0f}\n", sent, took, sent / took);
    return 0;
}
