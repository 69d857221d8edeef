/*
 * udpload: two-sided RTP load for bench/rtp_relay_bench.py (loopback only).
 *
 * Plays both peers of FLOWS calls at once: socket A (127.0.0.1:SRC_A) is every caller,
 * socket B (127.0.0.1:SRC_B) every callee. Line k of PORTS_FILE is "PA PB": the caller of
 * call k sends to 127.0.0.1:PA, its callee to 127.0.0.1:PB. Through a relay, PA/PB are the
 * relay's leg a/b RTP ports and what A sends comes back on B (and the reverse); for the
 * socket-to-socket ceiling the file says "SRC_B SRC_A" and the sockets talk directly.
 *
 * 2 x FLOWS streams (one per call and direction) each carry a proper RTP stream: version 2,
 * PT 0 (PCMU), a sequence number and a timestamp of its own, its own SSRC (new on every run),
 * and SIZE bytes in all (172 = 12 header + 160 payload). The timestamp advances by the
 * stream's real packet interval at 8 kHz (160 = 20 ms when RATE = 50 x 2 x FLOWS), so the
 * relay's RFC 3550 jitter measures the queueing it adds, not an artefact of the load. The payload starts
 * with the send time (CLOCK_MONOTONIC ns), read back on arrival for the one-way latency.
 * Packets go out round-robin over the streams at RATE packets/s in total for SECONDS,
 * paced by busy-polling a single thread that also receives (sendmmsg / recvmmsg batches).
 *
 * After the last send it drains for up to DRAIN_MS, then prints one JSON line: sent,
 * received, loss_pct, send_rate (achieved), lat_p50_us / lat_p99_us / lat_max_us (10 us
 * buckets), backlog_ms (packets still in flight when sending stopped, in ms of traffic: it
 * grows when the relay falls behind even while socket buffers hide the loss).
 *
 * build: gcc -O2 -o udpload udpload.c
 * usage: udpload RATE SECONDS SIZE SRC_A SRC_B PORTS_FILE DRAIN_MS
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 32
#define MAXSIZE 1500
#define BUCKET_US 10
#define BUCKETS 100000 /* 1 s of latency in 10 us buckets; later arrivals land in the last */
#define MAXFLOWS 100000

static uint64_t histogram[BUCKETS + 1];

struct stream {
    uint16_t seq;
    uint32_t timestamp;
    uint32_t ssrc;
};

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what) {
    perror(what);
    exit(2);
}

static int bound_socket(int port) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (s < 0) die("socket");
    int size = 8 << 20;
    /* FORCE variants pass the rmem_max/wmem_max caps when allowed (root); fall back quietly */
    if (setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
        setsockopt(s, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    if (setsockopt(s, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) < 0)
        setsockopt(s, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
    return s;
}

static double percentile(uint64_t total, double p) {
    if (total == 0) return -1;
    uint64_t want = (uint64_t)((double)total * p), seen = 0;
    for (int i = 0; i <= BUCKETS; i++) {
        seen += histogram[i];
        if (seen > want) return (double)i * BUCKET_US;
    }
    return (double)BUCKETS * BUCKET_US;
}

/* one side's send batch */
struct batch {
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    struct sockaddr_in to[BATCH];
    unsigned char buf[BATCH][MAXSIZE];
    int n;
};

static struct batch out[2];
static unsigned char rxbuf[BATCH][64]; /* only the header and send time are read */
static struct mmsghdr rxmsgs[BATCH];
static struct iovec rxiov[BATCH];

static uint64_t received, latency_max_us;

static void receive(int s) {
    for (int round = 0; round < 8; round++) {
        int n = recvmmsg(s, rxmsgs, BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0) {
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNREFUSED)
                die("recvmmsg");
            return;
        }
        uint64_t now = now_ns();
        for (int i = 0; i < n; i++) {
            uint64_t sent_at;
            if (rxmsgs[i].msg_len < 20) continue;
            memcpy(&sent_at, rxbuf[i] + 12, sizeof sent_at);
            uint64_t us = now > sent_at ? (now - sent_at) / 1000 : 0;
            if (us > latency_max_us) latency_max_us = us;
            uint64_t bucket = us / BUCKET_US;
            histogram[bucket > BUCKETS ? BUCKETS : bucket]++;
            received++;
        }
        if (n < BATCH) return;
    }
}

static int flush(int s, struct batch *b) {
    int done = 0;
    while (done < b->n) {
        int k = sendmmsg(s, b->msgs + done, (unsigned)(b->n - done), 0);
        if (k < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNREFUSED) break;
            die("sendmmsg");
        }
        done += k;
    }
    b->n = 0;
    return done;
}

int main(int argc, char **argv) {
    if (argc != 8) {
        fprintf(stderr, "usage: %s RATE SECONDS SIZE SRC_A SRC_B PORTS_FILE DRAIN_MS\n", argv[0]);
        return 2;
    }
    double rate = atof(argv[1]), seconds = atof(argv[2]);
    int size = atoi(argv[3]), src_a = atoi(argv[4]), src_b = atoi(argv[5]);
    int drain_ms = atoi(argv[7]);
    if (rate <= 0 || seconds <= 0 || size < 20 || size > MAXSIZE) {
        fprintf(stderr, "bad RATE, SECONDS or SIZE (20..%d)\n", MAXSIZE);
        return 2;
    }

    static uint16_t dst[MAXFLOWS][2];
    int flows = 0;
    FILE *f = fopen(argv[6], "r");
    if (!f) die("ports file");
    unsigned pa, pb;
    while (flows < MAXFLOWS && fscanf(f, "%u %u", &pa, &pb) == 2) {
        dst[flows][0] = (uint16_t)pa;
        dst[flows][1] = (uint16_t)pb;
        flows++;
    }
    fclose(f);
    if (flows == 0) {
        fprintf(stderr, "no flows in %s\n", argv[6]);
        return 2;
    }
    int streams = 2 * flows;
    struct stream *st = calloc((size_t)streams, sizeof *st);
    if (!st) die("calloc");
    uint32_t step = (uint32_t)(8000.0 * streams / rate + 0.5); /* timestamp units per packet */
    uint32_t run = (uint32_t)getpid() << 17;
    for (int i = 0; i < streams; i++) {
        st[i].seq = (uint16_t)(i * 7919);
        st[i].timestamp = (uint32_t)i * 1000003u;
        st[i].ssrc = run ^ (uint32_t)i; /* a new source per run: the relay starts afresh */
    }

    int sock[2] = {bound_socket(src_a), bound_socket(src_b)};
    for (int side = 0; side < 2; side++) {
        for (int i = 0; i < BATCH; i++) {
            struct batch *b = &out[side];
            memset(b->buf[i], 0, MAXSIZE);
            b->iov[i].iov_base = b->buf[i];
            b->iov[i].iov_len = (size_t)size;
            b->to[i].sin_family = AF_INET;
            b->to[i].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            b->msgs[i].msg_hdr.msg_iov = &b->iov[i];
            b->msgs[i].msg_hdr.msg_iovlen = 1;
            b->msgs[i].msg_hdr.msg_name = &b->to[i];
            b->msgs[i].msg_hdr.msg_namelen = sizeof b->to[i];
        }
    }
    for (int i = 0; i < BATCH; i++) {
        rxiov[i].iov_base = rxbuf[i];
        rxiov[i].iov_len = sizeof rxbuf[i];
        rxmsgs[i].msg_hdr.msg_iov = &rxiov[i];
        rxmsgs[i].msg_hdr.msg_iovlen = 1;
    }

    uint64_t count = (uint64_t)(rate * seconds), sent = 0, next = 0;
    uint64_t start = now_ns();
    while (sent < count) {
        uint64_t now = now_ns();
        uint64_t due = (uint64_t)((double)(now - start) * rate / 1e9);
        if (due > count) due = count;
        while (next < due && out[0].n < BATCH && out[1].n < BATCH) {
            int s = (int)(next % (uint64_t)streams), side = s & 1;
            struct batch *b = &out[side];
            unsigned char *p = b->buf[b->n];
            struct stream *x = &st[s];
            p[0] = 0x80;
            p[1] = 0; /* PT 0 */
            uint16_t seq = htons(x->seq++);
            uint32_t ts = htonl(x->timestamp), ssrc = htonl(x->ssrc);
            x->timestamp += step;
            memcpy(p + 2, &seq, 2);
            memcpy(p + 4, &ts, 4);
            memcpy(p + 8, &ssrc, 4);
            memcpy(p + 12, &now, 8);
            b->to[b->n].sin_port = htons(dst[s >> 1][side]);
            b->n++;
            next++;
        }
        sent += (uint64_t)flush(sock[0], &out[0]);
        sent += (uint64_t)flush(sock[1], &out[1]);
        next = sent; /* a packet the kernel refused is not retried: its stream shows a gap */
        receive(sock[0]);
        receive(sock[1]);
    }
    uint64_t stopped = now_ns();
    uint64_t backlog = sent > received ? sent - received : 0;
    while (received < sent && now_ns() - stopped < (uint64_t)drain_ms * 1000000ull) {
        receive(sock[0]);
        receive(sock[1]);
    }
    double elapsed = (double)(stopped - start) / 1e9;
    double loss = sent ? 100.0 * (double)(sent > received ? sent - received : 0) / (double)sent : 0;
    printf("{\"flows\": %d, \"sent\": %llu, \"received\": %llu, \"loss_pct\": %.4f, "
           "\"send_rate\": %.0f, \"lat_p50_us\": %.0f, \"lat_p99_us\": %.0f, "
           "\"lat_max_us\": %llu, \"backlog_ms\": %.1f}\n",
           flows, (unsigned long long)sent, (unsigned long long)received, loss,
           (double)sent / elapsed, percentile(received, 0.50), percentile(received, 0.99),
           (unsigned long long)latency_max_us, 1000.0 * (double)backlog / rate);
    return 0;
}
