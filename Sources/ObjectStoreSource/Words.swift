import CurlClient
import SyncCore

extension SourceWords {
    /// How S3 results read: buckets of objects, compared by listing pages of up to 1,000 keys.
    static let objectStore = SourceWords(scope: "bucket", scopes: "buckets", item: "object", items: "objects", segments: "listing pages")
}
