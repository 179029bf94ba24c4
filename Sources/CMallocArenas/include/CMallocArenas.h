#ifndef SYNCD_MALLOC_ARENAS_H
#define SYNCD_MALLOC_ARENAS_H

/* The malloc arena cap syncd set when it was loaded (two per online core), 0 when it set none
 * (MALLOC_ARENA_MAX was in the environment, or not glibc). */
int syncd_malloc_arena_cap(void);

#endif
