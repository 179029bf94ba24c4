import CMallocArenas

/// glibc gives each thread that allocates its own malloc arena, up to 8 per core, and memory freed
/// in one arena is not reused by another. syncd allocates on many threads (event loops, the
/// cooperative pool, each blocking client's thread), so its peak RSS grew with the work done
/// rather than with what it held. `CMallocArenas` caps the arenas at two per core before main
/// runs (MALLOC_ARENA_MAX in the environment wins); figures in the README (object-store
/// performance).
enum MallocArenas {
    /// The cap set at load, nil when none was.
    static var cap: Int? {
        let cap = Int(syncd_malloc_arena_cap())
        return cap > 0 ? cap : nil
    }
}
