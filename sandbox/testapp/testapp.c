/*
 * The one program inside the sandbox's test images: a tiny HTTP server that is a good PID 1.
 *
 * Why not busybox httpd: as PID 1 in a container, a process without a SIGTERM handler ignores SIGTERM,
 * so every restart would wait the whole terminationGracePeriodSeconds. This one exits at once.
 *
 *   GET /healthz  200 "ok", or 503 when READY=never (an image that never becomes ready)
 *   GET /         200 with $MESSAGE (e.g. "guestbook v1"), so tests can tell versions apart
 *   PORT          listen port (default 8080); with SLEEP_ONLY=1 it only waits for SIGTERM (the pause image)
 *
 * The port is bound with SO_REUSEPORT, as hot-upgradable sidecars (Envoy, MOSN) bind theirs: during a
 * SidecarSet hot upgrade the old and the new version run side by side in one pod, on the same port.
 */
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void on_term(int sig) { (void)sig; _exit(0); }

static void reply(int fd, const char *status, const char *body) {
    char buf[1024];
    int n = snprintf(buf, sizeof buf,
                     "HTTP/1.0 %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     status, strlen(body), body);
    if (n > 0) (void)!write(fd, buf, (size_t)n);
}

int main(void) {
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    signal(SIGPIPE, SIG_IGN);
    const char *sleep_only = getenv("SLEEP_ONLY");
    if (sleep_only && strcmp(sleep_only, "1") == 0) {
        for (;;) pause();
    }
    const char *port_s = getenv("PORT");
    const char *message = getenv("MESSAGE");
    const char *ready = getenv("READY");
    int never_ready = ready && strcmp(ready, "never") == 0;
    char body[512];
    snprintf(body, sizeof body, "%s\n", message ? message : "hello");

    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)atoi(port_s ? port_s : "8080"));
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    if (bind(s, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(s, 64) < 0) {
        perror("listen");
        return 1;
    }
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0) continue;
        char req[1024] = {0};
        ssize_t n = read(c, req, sizeof req - 1);
        if (n > 0 && strncmp(req, "GET /healthz", 12) == 0)
            reply(c, never_ready ? "503 Service Unavailable" : "200 OK", never_ready ? "not ready\n" : "ok\n");
        else
            reply(c, "200 OK", body);
        close(c);
    }
}
