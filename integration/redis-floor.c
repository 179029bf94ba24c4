/* The floor for the Redis check benchmark: the raw rate at which one server answers a pipelined
 * SCAN (one type at a time, SCAN ... TYPE) plus one whole-value read per key, replies read and
 * discarded. Plain C on hiredis, so nothing but the server and the wire limits it.
 * Usage: redis-floor HOST PORT USER PASSWORD   (prints: keys seconds) */
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

int main(int argc, char **argv) {
    if (argc != 5) { fprintf(stderr, "usage: redis-floor HOST PORT USER PASSWORD\n"); return 2; }
    redisContext *c = redisConnect(argv[1], atoi(argv[2]));
    if (!c || c->err) die(c, "connect");
    redisReply *auth = redisCommand(c, "AUTH %s %s", argv[3], argv[4]);
    if (!auth || auth->type == REDIS_REPLY_ERROR) die(c, "AUTH");
    freeReplyObject(auth);
    const char *types[] = {"string", "list", "set", "zset", "hash", "stream"};
    const char *reads[] = {"GET %b", "LRANGE %b 0 -1", "SMEMBERS %b", "ZRANGE %b 0 -1 WITHSCORES", "HGETALL %b", "XRANGE %b - +"};
    long long keys = 0;
    double start = now();
    for (int t = 0; t < 6; t++) {
        char cursor[64] = "0";
        do {
            redisReply *scan = redisCommand(c, "SCAN %s COUNT 2000 TYPE %s", cursor, types[t]);
            if (!scan || scan->type != REDIS_REPLY_ARRAY) die(c, "SCAN");
            snprintf(cursor, sizeof cursor, "%s", scan->element[0]->str);
            redisReply *batch = scan->element[1];
            for (size_t i = 0; i < batch->elements; i++)
                redisAppendCommand(c, reads[t], batch->element[i]->str, batch->element[i]->len);
            for (size_t i = 0; i < batch->elements; i++) {
                void *reply;
                if (redisGetReply(c, &reply) != REDIS_OK) die(c, "read");
                freeReplyObject(reply);
            }
            keys += batch->elements;
            freeReplyObject(scan);
        } while (strcmp(cursor, "0") != 0);
    }
    printf("%lld %.3f\n", keys, now() - start);
    redisFree(c);
    return 0;
}
