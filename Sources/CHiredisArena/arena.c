#include "CHiredisArena.h"
#include <stdlib.h>
#include <string.h>

enum { default_chunk = 64 * 1024, kept_after_reset = 1024 * 1024 };

typedef struct chunk {
    struct chunk *previous;
    size_t size;
    size_t used;
    /* the bytes follow, max_align_t aligned */
} chunk;

struct syncd_reply_arena {
    chunk *current;
    redisReplyObjectFunctions functions;
};

static size_t round_up(size_t n) { return (n + 15) & ~(size_t)15; }
static char *bytes_of(chunk *c) { return (char *)c + round_up(sizeof(chunk)); }

static chunk *new_chunk(size_t at_least, chunk *previous) {
    size_t size = at_least > default_chunk ? at_least : default_chunk;
    chunk *c = malloc(round_up(sizeof(chunk)) + size);
    if (c == NULL) return NULL;
    c->previous = previous;
    c->size = size;
    c->used = 0;
    return c;
}

static void *allocate(syncd_reply_arena *arena, size_t size) {
    size = round_up(size);
    chunk *c = arena->current;
    if (c->size - c->used < size) {
        /* Doubling keeps the number of chunks per reply logarithmic in its size. */
        size_t grown = c->size * 2 > size ? c->size * 2 : size;
        chunk *next = new_chunk(grown, c);
        if (next == NULL) return NULL;
        arena->current = c = next;
    }
    void *p = bytes_of(c) + c->used;
    c->used += size;
    return p;
}

static redisReply *new_reply(const redisReadTask *task, int type) {
    redisReply *r = allocate(task->privdata, sizeof(redisReply));
    if (r == NULL) return NULL;
    memset(r, 0, sizeof(*r));
    r->type = type;
    if (task->parent) {
        redisReply *parent = task->parent->obj;
        parent->element[task->idx] = r;
    }
    return r;
}

static void *create_string(const redisReadTask *task, char *str, size_t len) {
    char *copy = allocate(task->privdata, len + 1);
    if (copy == NULL) return NULL;
    memcpy(copy, str, len);
    copy[len] = '\0';
    redisReply *r = new_reply(task, task->type);
    if (r == NULL) return NULL;
    r->str = copy;
    r->len = len;
    return r;
}

static void *create_array(const redisReadTask *task, int elements) {
    redisReply **items = NULL;
    if (elements > 0) {
        items = allocate(task->privdata, (size_t)elements * sizeof(redisReply *));
        if (items == NULL) return NULL;
        memset(items, 0, (size_t)elements * sizeof(redisReply *));
    }
    redisReply *r = new_reply(task, REDIS_REPLY_ARRAY);
    if (r == NULL) return NULL;
    r->element = items;
    r->elements = elements > 0 ? (size_t)elements : 0;
    return r;
}

static void *create_integer(const redisReadTask *task, long long value) {
    redisReply *r = new_reply(task, REDIS_REPLY_INTEGER);
    if (r != NULL) r->integer = value;
    return r;
}

static void *create_nil(const redisReadTask *task) { return new_reply(task, REDIS_REPLY_NIL); }

/* Replies live until the next reset; hiredis calls this on errors and in redisFree. */
static void free_object(void *reply) { (void)reply; }

syncd_reply_arena *syncd_arena_attach(redisContext *context) {
    syncd_reply_arena *arena = malloc(sizeof(*arena));
    if (arena == NULL) return NULL;
    arena->current = new_chunk(default_chunk, NULL);
    if (arena->current == NULL) { free(arena); return NULL; }
    arena->functions.createString = create_string;
    arena->functions.createArray = create_array;
    arena->functions.createInteger = create_integer;
    arena->functions.createNil = create_nil;
    arena->functions.freeObject = free_object;
    context->reader->fn = &arena->functions;
    context->reader->privdata = arena;
    return arena;
}

void syncd_arena_reset(syncd_reply_arena *arena) {
    chunk *c = arena->current;
    /* Keep the newest (largest) chunk unless a big reply made it large: idle memory stays small. */
    chunk *older = c->previous;
    c->previous = NULL;
    while (older != NULL) {
        chunk *previous = older->previous;
        free(older);
        older = previous;
    }
    if (c->size > kept_after_reset) {
        chunk *fresh = new_chunk(default_chunk, NULL);
        if (fresh != NULL) { free(c); c = fresh; }
    }
    c->used = 0;
    arena->current = c;
}

void syncd_arena_free(syncd_reply_arena *arena) {
    if (arena == NULL) return;
    chunk *c = arena->current;
    while (c != NULL) {
        chunk *previous = c->previous;
        free(c);
        c = previous;
    }
    free(arena);
}

size_t syncd_arena_capacity(const syncd_reply_arena *arena) {
    size_t total = 0;
    for (const chunk *c = arena->current; c != NULL; c = c->previous) total += c->size;
    return total;
}
