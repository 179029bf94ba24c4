/* Plain C on hiredis, so nothing but the server and the wire limits it: one pass over every key of
 * one server, SCAN COUNT 1000 then the named read for every key, pipelined, replies read and
 * discarded. Two uses:
 * The floor of the Redis check benchmarks (bench-redis.sh, bench-redis-cluster.sh):
 *   typed  the whole value with the command for its type (GET, HGETALL, LRANGE, SMEMBERS,
 *          ZRANGE WITHSCORES, XRANGE), the type taken from the key's name as bench-redis.sh writes
 *          them (s:, h:, l:, set:, z:, x:) — a loop that needs no TYPE call; the strictest floor
 *   dump   DUMP, the one type-agnostic read of a whole value
 * What the server spends per key on each command a check could send (bench-redis.sh's last table;
 * the caller reads the server's CPU time around the pass):
 *   scan         SCAN alone (the base every other kind includes)
 *   pttl memory type        one PTTL / MEMORY USAGE … SAMPLES 1 / TYPE per key
 *   pttl+dump    PTTL and DUMP per key (what the check reads on each side)
 *   memory+pttl+dump        the same with the size estimate the check takes before a DUMP
 *   exists       one EXISTS k1 … kn per SCAN batch (the DR → primary pass)
 *   script SHA   EVALSHA_RO of a loaded script, 100 keys per call
 * Usage: redis-floor HOST PORT USER PASSWORD KIND [SHA]   (prints: keys seconds) */
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
    fprintf(stderr, "redis-floor: %s: %s\n", what, c->errstr[0] ? c->errstr : "error reply");
    exit(2);
}

static void drain(redisContext *c, size_t replies) {
    for (size_t i = 0; i < replies; i++) {
        redisReply *reply;
        if (redisGetReply(c, (void **)&reply) != REDIS_OK) die(c, "read");
        if (reply->type == REDIS_REPLY_ERROR) { fprintf(stderr, "redis-floor: %s\n", reply->str); exit(2); }
        freeReplyObject(reply);
    }
}

static const char *typed_read(const char *key) {
    if (strncmp(key, "set:", 4) == 0) return "SMEMBERS %b";
    switch (key[0]) {
    case 's': return "GET %b";
    case 'h': return "HGETALL %b";
    case 'l': return "LRANGE %b 0 -1";
    case 'z': return "ZRANGE %b 0 -1 WITHSCORES";
    default: return "XRANGE %b - +";
    }
}

/* Appends the kind's commands for every key of a SCAN batch; returns the replies to read. */
static size_t per_key(redisContext *c, const char *kind, redisReply *batch) {
    static const char *const commands[][4] = {
        {"dump", "DUMP %b", NULL, NULL}, {"pttl", "PTTL %b", NULL, NULL}, {"memory", "MEMORY USAGE %b SAMPLES 1", NULL, NULL},
        {"type", "TYPE %b", NULL, NULL}, {"pttl+dump", "PTTL %b", "DUMP %b", NULL},
        {"memory+pttl+dump", "MEMORY USAGE %b SAMPLES 1", "PTTL %b", "DUMP %b"}, {"typed", NULL, NULL, NULL},
    };
    for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++) {
        if (strcmp(kind, commands[k][0]) != 0) continue;
        size_t each = 0;
        for (size_t i = 0; i < batch->elements; i++) {
            const char *key = batch->element[i]->str;
            size_t length = batch->element[i]->len;
            if (!commands[k][1]) { redisAppendCommand(c, typed_read(key), key, length); each = 1; continue; }
            for (each = 0; each < 3 && commands[k][each + 1]; each++) redisAppendCommand(c, commands[k][each + 1], key, length);
        }
        return batch->elements * each;
    }
    fprintf(stderr, "redis-floor: unknown kind %s\n", kind);
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
    if (argc < 6) { fprintf(stderr, "usage: redis-floor HOST PORT USER PASSWORD KIND [SHA]\n"); return 2; }
    const char *kind = argv[5];
    static const char *const kinds[] = {"typed", "dump", "scan", "pttl", "memory", "type", "pttl+dump", "memory+pttl+dump", "exists", "script"};
    int known = 0;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) known |= strcmp(kind, kinds[k]) == 0;
    if (!known) { fprintf(stderr, "redis-floor: unknown kind %s\n", kind); return 2; }
    if (strcmp(kind, "script") == 0 && argc < 7) { fprintf(stderr, "redis-floor: script needs the SHA of a loaded script\n"); return 2; }
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
        if (batch->elements == 0 || strcmp(kind, "scan") == 0) replies = 0;
        else if (strcmp(kind, "exists") == 0) replies = multi_key(c, batch, NULL, batch->elements);
        else if (strcmp(kind, "script") == 0) replies = multi_key(c, batch, argv[6], 100);
        else replies = per_key(c, kind, batch);
        drain(c, replies);
        keys += batch->elements;
        freeReplyObject(scan);
    } while (strcmp(cursor, "0") != 0);
    printf("%lld %.3f\n", keys, now() - start);
    redisFree(c);
    return 0;
}
