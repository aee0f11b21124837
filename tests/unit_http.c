/* SPDX-License-Identifier: MIT */
/* tests/unit_http.c — unit test of src/http.c against an in-process plain HTTP/1.1 server on
 * 127.0.0.1 (no network): status, headers, bodies, no implicit redirects, size limits,
 * timeouts, failure mapping, many transfers driven together by http_wait with an extra fd,
 * and requests made from fibers (src/fiber.h) that yield to that loop instead of blocking. */
#include "check.h"
#include "fiber.h"
#include "http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int server_port;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void reply(int fd, const char *status, const char *extra, const char *body, size_t len)
{
	char head[512];

	snprintf(head, sizeof(head),
	    "HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
	    "Connection: close\r\n%s\r\n",
	    status, len, extra);
	send_all(fd, head, strlen(head));
	send_all(fd, body, len);
}

static void *serve_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char req[8192], path[256] = "";
	size_t have = 0;
	char *end = NULL;

	while (have < sizeof(req) - 1) {
		ssize_t r = recv(fd, req + have, sizeof(req) - 1 - have, 0);

		if (r <= 0)
			break;
		have += (size_t)r;
		req[have] = '\0';
		/* A TLS ClientHello: answer like a plain HTTP server does, in clear text. */
		if ((unsigned char)req[0] == 0x16) {
			reply(fd, "400 Bad Request", "", "plain http\n", 11);
			goto out;
		}
		end = strstr(req, "\r\n\r\n");
		if (end) {
			const char *cl = strcasestr(req, "\r\nContent-Length:");
			size_t want = cl ? strtoul(cl + 17, NULL, 10) : 0;

			if (have >= (size_t)(end + 4 - req) + want)
				break;
		}
	}
	if (!end)
		goto out;
	sscanf(req, "%*s %255s", path);
	if (strcmp(path, "/ok") == 0) {
		reply(fd, "200 OK", "X-Test: yes\r\n", "hello\n", 6);
	} else if (strcmp(path, "/redirect") == 0) {
		reply(fd, "301 Moved Permanently", "Location: /ok\r\n", "moved\n", 6);
	} else if (strcmp(path, "/big") == 0 || strcmp(path, "/big-nolength") == 0) {
		size_t len = 100 * 1024;
		char *body = malloc(len);

		memset(body, 'x', len);
		if (strcmp(path, "/big") == 0) {
			reply(fd, "200 OK", "", body, len);
		} else {
			const char *head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
					   "Connection: close\r\n\r\n";

			send_all(fd, head, strlen(head));
			send_all(fd, body, len);
		}
		free(body);
	} else if (strcmp(path, "/slow") == 0) {
		sleep_ms(3000);
		reply(fd, "200 OK", "", "late\n", 5);
	} else if (strcmp(path, "/delay") == 0) {
		sleep_ms(400);
		reply(fd, "200 OK", "", "delayed\n", 8);
	} else if (strcmp(path, "/echo") == 0) {
		/* Echo the whole request so the test can see method, headers and body. */
		reply(fd, "200 OK", "", req, have);
	} else {
		reply(fd, "404 Not Found", "", "no such page\n", 13);
	}
out:
	close(fd);
	return NULL;
}

static void *serve(void *arg)
{
	int lfd = (int)(intptr_t)arg;

	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		pthread_t t;

		if (fd < 0)
			continue;
		if (pthread_create(&t, NULL, serve_conn, (void *)(intptr_t)fd) == 0)
			pthread_detach(t);
		else
			close(fd);
	}
	return NULL;
}

static int listen_local(int *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 64) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) != 0)
		return -1;
	*port = ntohs(sa.sin_port);
	return fd;
}

static struct http_response *get(struct http_ctx *c, struct http_request *req, const char *path)
{
	char url[256];
	struct http_response *r = NULL;
	struct mx_err err;

	mx_err_clear(&err);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", server_port, path);
	req->url = url;
	CHECK_INT(http_perform(c, req, &r, &err), MX_OK);
	CHECK(r != NULL);
	return r;
}

static void test_basic(struct http_ctx *c)
{
	struct http_request req = {0};
	struct http_response *r;

	r = get(c, &req, "/ok");
	if (!r)
		return;
	CHECK_INT(r->fail, HTTP_FAIL_NONE);
	CHECK_INT(r->status, 200);
	CHECK_INT(r->len, 6);
	CHECK_STR(r->body, "hello\n");
	CHECK_STR(http_header(r, "content-type"), "text/plain");
	CHECK_STR(http_header(r, "X-TEST"), "yes");
	CHECK(http_header(r, "X-Missing") == NULL);
	CHECK_STR(r->error, "");
	http_response_free(r);

	r = get(c, &req, "/nothing-here");
	CHECK_INT(r->fail, HTTP_FAIL_NONE);
	CHECK_INT(r->status, 404);
	CHECK_STR(r->body, "no such page\n");
	http_response_free(r);
}

static void test_redirects(struct http_ctx *c)
{
	struct http_request req = {0};
	struct http_response *r;

	/* MTA-STS forbids following redirects: the 301 comes back as is. */
	r = get(c, &req, "/redirect");
	CHECK_INT(r->fail, HTTP_FAIL_NONE);
	CHECK_INT(r->status, 301);
	CHECK_STR(http_header(r, "Location"), "/ok");
	CHECK_STR(r->body, "moved\n");
	http_response_free(r);

	req.follow_redirects = true;
	r = get(c, &req, "/redirect");
	CHECK_INT(r->fail, HTTP_FAIL_NONE);
	CHECK_INT(r->status, 200);
	CHECK_STR(r->body, "hello\n");
	/* Only the final response's headers are kept. */
	CHECK(http_header(r, "Location") == NULL);
	CHECK_STR(http_header(r, "X-Test"), "yes");
	http_response_free(r);
}

static void test_limits(struct http_ctx *c)
{
	struct http_request req = {0};
	struct http_response *r;
	double t0;

	req.max_body = 64 * 1024;
	r = get(c, &req, "/big");
	CHECK_INT(r->fail, HTTP_FAIL_TOO_LARGE);
	CHECK_INT(r->status, 200);
	CHECK(r->len <= 64 * 1024);
	CHECK(r->error[0] != '\0');
	http_response_free(r);

	r = get(c, &req, "/big-nolength");
	CHECK_INT(r->fail, HTTP_FAIL_TOO_LARGE);
	CHECK_INT(r->status, 200);
	CHECK(r->len <= 64 * 1024);
	CHECK_STR(http_header(r, "Content-Type"), "text/plain");
	http_response_free(r);

	req.max_body = 100 * 1024;
	r = get(c, &req, "/big");
	CHECK_INT(r->fail, HTTP_FAIL_NONE);
	CHECK_INT(r->len, 100 * 1024);
	http_response_free(r);

	req.max_body = 0;
	req.timeout_ms = 500;
	t0 = now_s();
	r = get(c, &req, "/slow");
	CHECK_INT(r->fail, HTTP_FAIL_TIMEOUT);
	CHECK_INT(r->status, 0);
	CHECK(now_s() - t0 < 2.5);
	http_response_free(r);
}

static void test_request(struct http_ctx *c)
{
	const char *headers[] = {"X-Api-Key: s3cret", "Content-Type: application/json", NULL};
	struct http_request req = {
	    .method = "PATCH", .headers = headers, .body = "{\"a\":1}", .body_len = 7};
	struct http_response *r;

	r = get(c, &req, "/echo");
	CHECK_INT(r->status, 200);
	CHECK(strncmp(r->body, "PATCH /echo HTTP/1.1\r\n", 22) == 0);
	CHECK(strstr(r->body, "\r\nX-Api-Key: s3cret\r\n") != NULL);
	CHECK(strstr(r->body, "\r\nUser-Agent: mxcutover/" MX_VERSION "\r\n") != NULL);
	CHECK(strstr(r->body, "\r\n\r\n{\"a\":1}") != NULL);
	http_response_free(r);

	req = (struct http_request){.method = "DELETE"};
	r = get(c, &req, "/echo");
	CHECK(strncmp(r->body, "DELETE /echo HTTP/1.1\r\n", 23) == 0);
	http_response_free(r);
}

static void test_failures(struct http_ctx *c)
{
	struct http_request req = {0};
	struct http_response *r = NULL;
	struct mx_err err;
	char url[256];
	int dead_port, fd;

	mx_err_clear(&err);
	/* A port that was just free: nothing listens there. */
	fd = listen_local(&dead_port);
	close(fd);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/ok", dead_port);
	req.url = url;
	CHECK_INT(http_perform(c, &req, &r, &err), MX_OK);
	CHECK_INT(r->fail, HTTP_FAIL_CONNECT);
	CHECK_INT(r->status, 0);
	CHECK(r->error[0] != '\0');
	http_response_free(r);

	/* https to a plain HTTP server: a TLS failure, never a response. */
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/ok", server_port);
	req.timeout_ms = 5000;
	CHECK_INT(http_perform(c, &req, &r, &err), MX_OK);
	CHECK(r->fail == HTTP_FAIL_TLS || r->fail == HTTP_FAIL_OTHER);
	CHECK_INT(r->status, 0);
	CHECK(r->fail != HTTP_FAIL_NONE);
	http_response_free(r);

	/* Protocols other than http/https are refused. */
	req.url = "file:///etc/passwd";
	CHECK_INT(http_perform(c, &req, &r, &err), MX_OK);
	CHECK_INT(r->fail, HTTP_FAIL_OTHER);
	CHECK_INT(r->len, 0);
	http_response_free(r);

	/* connect_addr pins the URL's host name (no DNS involved). */
	snprintf(url, sizeof(url), "http://mta-sts.contoso.test:%d/ok", server_port);
	req.url = url;
	req.connect_addr = "127.0.0.1";
	CHECK_INT(http_perform(c, &req, &r, &err), MX_OK);
	CHECK_INT(r->fail, HTTP_FAIL_NONE);
	CHECK_INT(r->status, 200);
	http_response_free(r);

	req.url = "http://[not a url";
	CHECK_INT(http_perform(c, &req, &r, &err), MX_EINVAL);
	CHECK(r == NULL);
	CHECK(err.msg[0] != '\0');
}

static void test_bad_cacert(void)
{
	struct http_ctx *c = NULL;
	struct mx_err err;

	/* A CA bundle that cannot be used is refused up front, naming the path — never
	 * reported later as a certificate problem of some web server. */
	mx_err_clear(&err);
	CHECK_INT(http_ctx_new(&c, "/nonexistent/ca.pem", &err), MX_EINVAL);
	CHECK(c == NULL);
	CHECK(strstr(err.msg, "--cacert /nonexistent/ca.pem cannot be read") != NULL);
	mx_err_clear(&err);
	CHECK_INT(http_ctx_new(&c, "/dev/null", &err), MX_EINVAL);
	CHECK(strstr(err.msg, "holds no PEM certificate") != NULL);
	mx_err_clear(&err);
	CHECK_INT(http_ctx_new(&c, "/", &err), MX_EINVAL);
	http_ctx_free(c);
}

struct done_count {
	int done;
	int ok;
};

static void count_done(void *arg, struct http_response *r)
{
	struct done_count *d = arg;

	d->done++;
	if (r->fail == HTTP_FAIL_NONE && r->status == 200 && strcmp(r->body, "delayed\n") == 0)
		d->ok++;
	http_response_free(r);
}

static void test_concurrent(struct http_ctx *c)
{
	struct done_count d = {0};
	struct http_request req = {0};
	struct http_pollfd pfd;
	struct mx_err err;
	char url[256];
	int pipefd[2], loops = 0;
	bool saw_pipe = false;
	double t0;

	mx_err_clear(&err);
	CHECK(pipe(pipefd) == 0);

	/* An extra fd that becomes readable ends the wait early, with no transfer in flight. */
	CHECK(write(pipefd[1], "x", 1) == 1);
	pfd.fd = pipefd[0];
	t0 = now_s();
	CHECK_INT(http_wait_fds(c, &pfd, 1, 5000, &err), MX_OK);
	CHECK(pfd.ready);
	CHECK(now_s() - t0 < 1.0);
	t0 = now_s();
	CHECK_INT(http_wait(c, &pipefd[0], 1, 5000, &err), MX_OK);
	CHECK(now_s() - t0 < 1.0);
	{
		char ch;

		CHECK(read(pipefd[0], &ch, 1) == 1);
	}
	t0 = now_s();
	CHECK_INT(http_wait_fds(c, &pfd, 1, 200, &err), MX_OK);
	CHECK(!pfd.ready);
	CHECK(now_s() - t0 >= 0.15);

	/* Five 400 ms responses at once finish in about 400 ms, not 2 s. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/delay", server_port);
	req.url = url;
	t0 = now_s();
	for (int i = 0; i < 5; i++)
		CHECK_INT(http_start(c, &req, count_done, &d, &err), MX_OK);
	CHECK_INT(http_pending(c), 5);
	CHECK_INT(d.done, 0); /* callbacks run only from http_wait */
	while (http_pending(c) > 0 && loops++ < 1000) {
		if (loops == 3)
			CHECK(write(pipefd[1], "y", 1) == 1);
		pfd.fd = pipefd[0];
		CHECK_INT(http_wait_fds(c, &pfd, 1, 1000, &err), MX_OK);
		if (pfd.ready) {
			char ch;

			saw_pipe = true;
			CHECK(read(pipefd[0], &ch, 1) == 1);
		}
	}
	CHECK_INT(d.done, 5);
	CHECK_INT(d.ok, 5);
	CHECK(saw_pipe);
	CHECK(now_s() - t0 < 1.6);
	CHECK_INT(http_pending(c), 0);

	/* Transfers still in flight are dropped by http_ctx_free without callbacks. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/slow", server_port);
	CHECK_INT(http_start(c, &req, count_done, &d, &err), MX_OK);
	CHECK_INT(http_wait(c, NULL, 0, 50, &err), MX_OK);
	CHECK_INT(http_pending(c), 1);
	close(pipefd[0]);
	close(pipefd[1]);
}

/* ---- fibers: http_perform inside a fiber yields instead of blocking ---- */

struct fiber_arg {
	struct http_ctx *c;
	int steps, got;
	bool outside_seen_inside;
};

static void count_steps(void *arg)
{
	struct fiber_arg *a = arg;

	for (a->steps = 1; a->steps <= 3; a->steps++) {
		a->outside_seen_inside = mx_fiber_current() != NULL;
		mx_fiber_yield();
	}
}

/* Two requests one after the other, with a deep frame in between (the stack is the fiber's). */
static void two_requests(void *arg)
{
	struct fiber_arg *a = arg;
	volatile char deep[96 * 1024];
	char url[128];
	struct http_request req = {0};

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/delay", server_port);
	req.url = url;
	for (int i = 0; i < 2; i++) {
		struct http_response *r = NULL;
		struct mx_err err;

		mx_err_clear(&err);
		if (http_perform(a->c, &req, &r, &err) == MX_OK && r && r->status == 200 &&
		    !strcmp(r->body, "delayed\n"))
			a->got++;
		http_response_free(r);
		for (size_t k = 0; k < sizeof(deep); k += 512)
			deep[k] = (char)i;
	}
}

/* A request to /slow (3 s), then another: the fiber is cancelled while the first is out. */
struct cancel_arg {
	struct http_ctx *c;
	int rc1, rc2;
	char msg1[600], msg2[600];
};

static void slow_then_more(void *arg)
{
	struct cancel_arg *a = arg;
	struct http_request req = {0};
	struct http_response *r = NULL;
	struct mx_err err;
	char url[128];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/slow", server_port);
	req.url = url;
	mx_err_clear(&err);
	a->rc1 = http_perform(a->c, &req, &r, &err);
	snprintf(a->msg1, sizeof(a->msg1), "%s", err.msg);
	http_response_free(r);
	r = NULL;
	mx_err_clear(&err);
	a->rc2 = http_perform(a->c, &req, &r, &err);
	snprintf(a->msg2, sizeof(a->msg2), "%s", err.msg);
	http_response_free(r);
}

static void test_fiber_cancel(void)
{
	struct cancel_arg a = {0};
	struct mx_fiber *f = NULL;
	struct mx_err err;
	double t0;

	mx_err_clear(&err);
	CHECK_INT(http_ctx_new(&a.c, NULL, &err), MX_OK);
	CHECK_INT(mx_fiber_new(&f, slow_then_more, &a, &err), MX_OK);
	if (!f || !a.c)
		return;
	mx_fiber_resume(f);
	CHECK(!mx_fiber_done(f));
	CHECK_INT(http_pending(a.c), 1);
	/* The transfer goes, the request fails saying it was stopped, and the next one is
	 * never sent: the fiber ends at this resume, not 3 s later. */
	mx_fiber_cancel(f);
	t0 = now_s();
	mx_fiber_resume(f);
	CHECK(mx_fiber_done(f));
	CHECK(now_s() - t0 < 0.1);
	CHECK(a.rc1 != MX_OK && strstr(a.msg1, "stopped") != NULL);
	CHECK(a.rc2 != MX_OK && strstr(a.msg2, "not sent") != NULL);
	CHECK_INT(http_pending(a.c), 0);
	mx_fiber_free(f);
	http_ctx_free(a.c);
}

static void test_fibers(void)
{
	struct http_ctx *c = NULL;
	struct mx_fiber *f[5];
	struct fiber_arg a[5];
	struct mx_err err;
	int loops = 0, done;
	double t0;

	mx_err_clear(&err);
	CHECK(mx_fiber_current() == NULL);
	memset(a, 0, sizeof(a));
	CHECK_INT(mx_fiber_new(&f[0], count_steps, &a[0], &err), MX_OK);
	CHECK(mx_fiber_ready(f[0]));
	for (int i = 1; i <= 3; i++) {
		mx_fiber_resume(f[0]);
		CHECK_INT(a[0].steps, i);
		CHECK(a[0].outside_seen_inside);
		CHECK(mx_fiber_current() == NULL);
		CHECK(!mx_fiber_done(f[0]));
		CHECK(!mx_fiber_ready(f[0])); /* nothing woke it */
		mx_fiber_wake(f[0]);
		CHECK(mx_fiber_ready(f[0]));
	}
	mx_fiber_resume(f[0]);
	CHECK(mx_fiber_done(f[0]));
	CHECK(!mx_fiber_ready(f[0]));
	mx_fiber_free(f[0]);

	/* Five fibers, each two 400 ms requests in a row, on one thread driven by one loop:
	 * about 0.8 s in all, not 4 s; the loop turns while the requests are out. */
	CHECK_INT(http_ctx_new(&c, NULL, &err), MX_OK);
	t0 = now_s();
	for (int i = 0; i < 5; i++) {
		a[i].c = c;
		CHECK_INT(mx_fiber_new(&f[i], two_requests, &a[i], &err), MX_OK);
		mx_fiber_resume(f[i]);
		CHECK(!mx_fiber_done(f[i])); /* it waits for its first answer */
	}
	CHECK_INT(http_pending(c), 5);
	do {
		done = 0;
		CHECK_INT(http_wait(c, NULL, 0, 1000, &err), MX_OK);
		for (int i = 0; i < 5; i++) {
			if (mx_fiber_ready(f[i]))
				mx_fiber_resume(f[i]);
			done += mx_fiber_done(f[i]);
		}
	} while (done < 5 && ++loops < 100);
	CHECK_INT(done, 5);
	CHECK(loops >= 2);
	CHECK(now_s() - t0 < 2.0);
	for (int i = 0; i < 5; i++) {
		CHECK_INT(a[i].got, 2);
		mx_fiber_free(f[i]);
	}
	CHECK_INT(http_pending(c), 0);
	http_ctx_free(c);
}

static void test_escape(void)
{
	char *e = http_escape("a b&c/\xc3\xa9");

	CHECK_STR(e, "a%20b%26c%2F%C3%A9");
	free(e);
	e = http_escape("");
	CHECK_STR(e, "");
	free(e);
}

int main(void)
{
	struct http_ctx *c = NULL;
	struct mx_err err;
	pthread_t t;
	int lfd = listen_local(&server_port);

	mx_err_clear(&err);
	CHECK(lfd >= 0);
	if (lfd < 0)
		return CHECK_DONE();
	CHECK(pthread_create(&t, NULL, serve, (void *)(intptr_t)lfd) == 0);
	pthread_detach(t);
	CHECK_INT(http_ctx_new(&c, NULL, &err), MX_OK);

	test_basic(c);
	test_redirects(c);
	test_limits(c);
	test_request(c);
	test_failures(c);
	test_bad_cacert();
	test_escape();
	test_fibers();
	test_fiber_cancel();
	test_concurrent(c);

	http_ctx_free(c);
	return CHECK_DONE();
}
