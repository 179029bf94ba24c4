import RedisClient
import SyncCore

extension SourceWords {
    /// How Redis results read: databases of keys, compared in pipelined batches.
    static let redis = SourceWords(scope: "database", scopes: "databases", item: "key", items: "keys", segments: "batches")
}
