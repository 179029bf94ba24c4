/* What a Redis server spends per key on each command a check could send (bench-redis.sh, last
 * table): one pass over every key, SCAN COUNT 1000 then one pipelined read per key of the named
 * kind; the caller reads the server's CPU time around it. Plain C on hiredis, so the figure is the
 * server's, not a client's. Kinds:
 *   scan         SCAN alone (the base every other kind includes)
 *   dump pttl memory type   one DUMP / PTTL / MEMORY USAGE … SAMPLES 1 / TYPE per key
 *   pttl+dump    PTTL and DUMP per key (what the check reads on each side)
 *   memory+pttl+dump        the same with the size estimate the check takes before a DUMP
 *   exists       one EXISTS k1 … kn per SCAN batch (the DR → primary pass)
 *   script SHA   EVALSHA_RO of a loaded script, 100 keys per call (pipelined)
 * Usage: redis-command-cost HOST PORT USER PASSWORD KIND [SHA]   (prints: keys seconds) */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void die(redisContext *c, const char *what) {
    fprintf(stderr, "redis-command-cost: %s: %s\n", what, c->errstr[0] ? c->errstr : "error reply");
    exit(2);
}

static void drain(redisContext *c, size_t replies) {
    for (size_t i = 0; i < replies; i++) {
        redisReply *reply;
        if (redisGetReply(c, (void **)&reply) != REDIS_OK) die(c, "read");
        if (reply->type == REDIS_REPLY_ERROR) { fprintf(stderr, "redis-command-cost: %s\n", reply->str); exit(2); }
        freeReplyObject(reply);
    }
}

/* Appends one command of the form NAME... KEY... per key batch; returns the replies to read. */
static size_t per_key(redisContext *c, const char *kind, redisReply *batch) {
    static const char *const commands[][3] = {
        {"dump", "DUMP %b", NULL}, {"pttl", "PTTL %b", NULL}, {"memory", "MEMORY USAGE %b SAMPLES 1", NULL},
        {"type", "TYPE %b", NULL}, {"pttl+dump", "PTTL %b", "DUMP %b"},
    };
    for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++) {
        if (strcmp(kind, commands[k][0]) != 0) continue;
        size_t each = commands[k][2] ? 2 : 1;
        for (size_t i = 0; i < batch->elements; i++)
            for (size_t j = 1; j <= each; j++)
                redisAppendCommand(c, commands[k][j], batch->element[i]->str, batch->element[i]->len);
        return batch->elements * each;
    }
    if (strcmp(kind, "memory+pttl+dump") == 0) {
        for (size_t i = 0; i < batch->elements; i++) {
            const char *key = batch->element[i]->str;
            size_t length = batch->element[i]->len;
            redisAppendCommand(c, "MEMORY USAGE %b SAMPLES 1", key, length);
            redisAppendCommand(c, "PTTL %b", key, length);
            redisAppendCommand(c, "DUMP %b", key, length);
        }
        return batch->elements * 3;
    }
    fprintf(stderr, "redis-command-cost: unknown kind %s\n", kind);
    exit(2);
}

/* NAME [SHA NUMKEYS] KEY... in groups of `group` keys, pipelined; returns the replies to read. */
static size_t multi_key(redisContext *c, redisReply *batch, const char *sha, size_t group) {
    size_t calls = 0;
    const char **argv = malloc((group + 3) * sizeof *argv);
    size_t *lengths = malloc((group + 3) * sizeof *lengths);
    for (size_t start = 0; start < batch->elements; start += group, calls++) {
        size_t count = batch->elements - start < group ? batch->elements - start : group, head = 0;
        char numkeys[24];
        snprintf(numkeys, sizeof numkeys, "%zu", count);
        if (sha) {
            argv[head] = "EVALSHA_RO"; lengths[head++] = 10;
            argv[head] = sha; lengths[head++] = strlen(sha);
            argv[head] = numkeys; lengths[head++] = strlen(numkeys);
        } else {
            argv[head] = "EXISTS"; lengths[head++] = 6;
        }
        for (size_t i = 0; i < count; i++) {
            argv[head + i] = batch->element[start + i]->str;
            lengths[head + i] = batch->element[start + i]->len;
        }
        redisAppendCommandArgv(c, (int)(head + count), argv, lengths);
    }
    free(argv);
    free(lengths);
    return calls;
}

int main(int argc, char **argv) {
    if (argc < 6) { fprintf(stderr, "usage: redis-command-cost HOST PORT USER PASSWORD KIND [SHA]\n"); return 2; }
    const char *kind = argv[5];
    redisContext *c = redisConnect(argv[1], atoi(argv[2]));
    if (!c || c->err) die(c, "connect");
    redisReply *auth = redisCommand(c, "AUTH %s %s", argv[3], argv[4]);
    if (!auth || auth->type == REDIS_REPLY_ERROR) die(c, "AUTH");
    freeReplyObject(auth);
    long long keys = 0;
    double start = now();
    char cursor[64] = "0";
    do {
        redisReply *scan = redisCommand(c, "SCAN %s COUNT 1000", cursor);
        if (!scan || scan->type != REDIS_REPLY_ARRAY) die(c, "SCAN");
        snprintf(cursor, sizeof cursor, "%s", scan->element[0]->str);
        redisReply *batch = scan->element[1];
        size_t replies = 0;
        if (strcmp(kind, "exists") == 0) replies = multi_key(c, batch, NULL, batch->elements ? batch->elements : 1);
        else if (strcmp(kind, "script") == 0) replies = multi_key(c, batch, argc > 6 ? argv[6] : "", 100);
        else if (strcmp(kind, "scan") != 0) replies = per_key(c, kind, batch);
        if (batch->elements == 0) replies = 0;
        drain(c, replies);
        keys += batch->elements;
        freeReplyObject(scan);
    } while (strcmp(cursor, "0") != 0);
    printf("%lld %.3f\n", keys, now() - start);
    redisFree(c);
    return 0;
}
