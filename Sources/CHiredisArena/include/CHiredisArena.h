#ifndef SYNCD_HIREDIS_ARENA_H
#define SYNCD_HIREDIS_ARENA_H
#include <hiredis/hiredis.h>

/* Builds a connection's replies in one bump-allocated arena instead of a calloc per reply and a
   malloc per string: a pipeline of thousands of small replies cost syncd ~10 heap calls per key.
   A reply stays valid until the next syncd_arena_reset; freeReplyObject must never see one. */
typedef struct syncd_reply_arena syncd_reply_arena;

/* Installs the arena as the context's reply builder; NULL when out of memory (the context is then
   left as it was). */
syncd_reply_arena *syncd_arena_attach(redisContext *context);

/* Forgets every reply built so far (call before reading the next reply). */
void syncd_arena_reset(syncd_reply_arena *arena);

/* Frees the arena; call after redisFree of its context. */
void syncd_arena_free(syncd_reply_arena *arena);

/* Bytes the arena holds now (for tests). */
size_t syncd_arena_capacity(const syncd_reply_arena *arena);
#endif
