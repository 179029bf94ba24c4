/* The floor for the Redis check benchmark: the raw rate at which one server answers a pipelined
 * SCAN plus one read per key, replies read and discarded. Plain C on hiredis, so nothing but the
 * server and the wire limits it. Two kinds of read:
 *   typed  the whole value with the command for its type (GET, HGETALL, LRANGE, SMEMBERS,
 *          ZRANGE WITHSCORES, XRANGE), the type taken from the key's name as bench-redis.sh writes
 *          them (s:, h:, l:, set:, z:, x:) — a loop that needs no TYPE call; the strictest floor
 *   dump   DUMP, the one type-agnostic read of a whole value
 * Usage: redis-floor HOST PORT USER PASSWORD typed|dump   (prints: keys seconds) */
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

int main(int argc, char **argv) {
    if (argc != 6) { fprintf(stderr, "usage: redis-floor HOST PORT USER PASSWORD typed|dump\n"); return 2; }
    int dump = strcmp(argv[5], "dump") == 0;
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
        for (size_t i = 0; i < batch->elements; i++) {
            const char *key = batch->element[i]->str;
            redisAppendCommand(c, dump ? "DUMP %b" : typed_read(key), key, batch->element[i]->len);
        }
        for (size_t i = 0; i < batch->elements; i++) {
            void *reply;
            if (redisGetReply(c, &reply) != REDIS_OK) die(c, "read");
            freeReplyObject(reply);
        }
        keys += batch->elements;
        freeReplyObject(scan);
    } while (strcmp(cursor, "0") != 0);
    printf("%lld %.3f\n", keys, now() - start);
    redisFree(c);
    return 0;
}
