#include "CMallocArenas.h"
#include <stdlib.h> /* defines __GLIBC__ on glibc */
#if defined(__GLIBC__)
#include <malloc.h>
#include <sys/sysinfo.h>
#endif

static int arena_cap = 0;

/* glibc fixes its arena limit the first time a second thread allocates, so the cap is set before
 * main, ahead of every thread the Swift runtime and the clients start. */
#if defined(__GLIBC__)
__attribute__((constructor)) static void cap_malloc_arenas(void) {
    if (getenv("MALLOC_ARENA_MAX") != NULL) return;
    int cap = 2 * get_nprocs();
    if (mallopt(M_ARENA_MAX, cap) == 1) arena_cap = cap;
}
#endif

int syncd_malloc_arena_cap(void) { return arena_cap; }
