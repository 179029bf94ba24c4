import Crypto
import CurlClient
import Foundation
import SyncCore

/// One object as a listing shows it.
public struct ObjectEntry: Sendable, Equatable {
    public var key: String
    public var size: Int64
    /// Without quotes. A multipart upload's ETag ends in "-<parts>" and is not a content hash.
    public var etag: String
    public var lastModified: Date

    public init(key: String, size: Int64, etag: String, lastModified: Date) {
        self.key = key
        self.size = size
        self.etag = etag
        self.lastModified = lastModified
    }

    public var isMultipart: Bool { etag.contains("-") }

    /// The object's identity: its key's bytes.
    public var id: ByteKey { key.byteKey }

    /// Byte equality of keys (the synthesised `==` would equate NFC and NFD spellings).
    public static func == (lhs: ObjectEntry, rhs: ObjectEntry) -> Bool {
        lhs.key.sameBytes(as: rhs.key) && lhs.size == rhs.size && lhs.etag == rhs.etag && lhs.lastModified == rhs.lastModified
    }
}

/// One side's bucket: listing, HEAD, streaming GET and PUT (multipart for big objects), DELETE.
/// Requests are signed by libcurl (CURLOPT_AWS_SIGV4); transfers share a bounded handle pool.
public final class S3Bucket: Sendable {
    public let store: ObjectStoreEndpoint
    let label: String
    let pool: CurlPool
    let connectTimeout: Int
    static let requestTimeout = 3600

    public init(endpoint: EndpointConfig, label: String, concurrency: Int) {
        store = endpoint.objectStore ?? ObjectStoreEndpoint(url: "http://\(endpoint.host):\(endpoint.port)", bucket: "unknown")
        self.label = label
        pool = CurlPool(size: concurrency)
        connectTimeout = endpoint.connectTimeoutSeconds
    }

    var signing: RequestSigning? {
        guard let access = store.accessKey, let secret = store.secretKey else { return nil }
        return RequestSigning(region: store.region, accessKey: access.value, secretKey: secret.value)
    }

    /// RFC 3986 encoding as SigV4 wants it: everything but unreserved characters (and '/' in paths).
    static func encode(_ text: String, keepSlash: Bool) -> String {
        var allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")
        if keepSlash { allowed.insert("/") }
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    /// The URL of the bucket or of one key; query parameters sorted by name, as SigV4 signs them.
    func url(key: String? = nil, query: [(String, String)] = []) -> String {
        var base = store.url
        var path = ""
        if store.virtualHost, let components = URLComponents(string: store.url), let host = components.host {
            base = "\(components.scheme ?? "https")://\(store.bucket).\(host)" + (components.port.map { ":\($0)" } ?? "")
        } else {
            path = "/\(store.bucket)"
        }
        if let key { path += "/" + Self.encode(key, keepSlash: true) } else if store.virtualHost { path = "/" }
        let sorted = query.sorted { $0.0 < $1.0 }
        let text = sorted.map { "\(Self.encode($0.0, keepSlash: false))=\(Self.encode($0.1, keepSlash: false))" }.joined(separator: "&")
        return base + path + (text.isEmpty ? "" : "?\(text)")
    }

    /// Runs one request; non-2xx answers become HTTPErrors with S3's error code, transport failures
    /// SyncError.unreachable naming the side.
    func request(_ method: String, key: String? = nil, query: [(String, String)] = [], headers: [String] = [], body: RequestBody? = nil,
                 allow: Set<Int> = [], sink: (@Sendable (UnsafeRawBufferPointer) -> Bool)? = nil) async throws -> HTTPResponse {
        let target = url(key: key, query: query)
        let request = HTTPRequest(method: method, url: target, headers: headers, body: body, signing: signing, verifyTLS: store.verifyTLS,
                                  connectTimeoutSeconds: connectTimeout, timeoutSeconds: Self.requestTimeout)
        let response: HTTPResponse
        do {
            response = try await pool.perform(request, sink: sink)
        } catch let error as HTTPError where error.kind == .transport {
            throw SyncError.unreachable(side: label, message: "\(method) \(target): \(error.message)")
        }
        guard (200..<300).contains(response.status) || allow.contains(response.status) else {
            let parsed = S3XML.parse(response.body, record: "Error")
            let fields = parsed?.records.first ?? parsed?.top ?? [:]
            throw HTTPError(kind: .status, status: response.status, code: fields["Code"], message: fields["Message"] ?? "")
        }
        return response
    }

    /// One ListObjectsV2 page: objects, the common prefixes (with a delimiter), the next token.
    /// Keys are asked for URL-encoded (`encoding-type=url`) and read byte for byte either way, so
    /// CR, LF and control characters in keys survive exactly as the store holds them.
    public func listPage(prefix: String, delimiter: String? = nil, token: String?) async throws -> (entries: [ObjectEntry], prefixes: [String], next: String?) {
        var query = [("list-type", "2"), ("max-keys", "1000"), ("encoding-type", "url")]
        if !prefix.isEmpty { query.append(("prefix", prefix)) }
        if let delimiter { query.append(("delimiter", delimiter)) }
        if let token { query.append(("continuation-token", token)) }
        let response = try await describeFailure("listing bucket '\(store.bucket)'") { try await self.request("GET", query: query) }
        return try Self.parseListing(response.body, what: "\(label): the listing of bucket '\(store.bucket)'")
    }

    /// One ListObjectsV2 answer. Anything that is not a complete listing is an error, never an
    /// empty or shorter one (a proxy's stray 200, a truncated page without a way on): a bucket
    /// that looked empty would make a check of two such answers pass. `what` names it in errors.
    static func parseListing(_ body: [UInt8], what: String) throws -> (entries: [ObjectEntry], prefixes: [String], next: String?) {
        var entries: [ObjectEntry] = []
        var prefixes: [String] = []
        let root: String, top: [String: String]
        do {
            (root, top) = try S3XML.records(body, named: ["Contents", "CommonPrefixes"]) { name, record in
                if name == "CommonPrefixes" {
                    if let prefix = record["Prefix"] { prefixes.append(prefix) }
                    return
                }
                guard let key = record["Key"], let size = record["Size"].flatMap(Int64.init),
                      let modified = record["LastModified"].flatMap(S3XML.date) else {
                    throw SyncError.failed("\(what): an entry lacks Key, Size or LastModified: \(record)")
                }
                let etag = (record["ETag"] ?? "").trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                entries.append(ObjectEntry(key: key, size: size, etag: etag, lastModified: modified))
            }
        } catch let error as SyncError {
            throw error
        } catch {
            throw SyncError.failed("\(what) is not well-formed XML")
        }
        guard root == "ListBucketResult" else {
            throw SyncError.failed("\(what) is not a ListBucketResult (its root element is <\(DisplayText.escape(root))>)")
        }
        // The answer says whether it encoded (a store that ignores the parameter sends keys as they are).
        if top["EncodingType"] == "url" {
            for index in entries.indices {
                guard let key = S3XML.urlDecoded(entries[index].key) else {
                    throw SyncError.failed("\(what) holds a key that does not decode to UTF-8: '\(DisplayText.escape(entries[index].key))'")
                }
                entries[index].key = key
            }
            prefixes = try prefixes.map { prefix in
                guard let decoded = S3XML.urlDecoded(prefix) else {
                    throw SyncError.failed("\(what) holds a prefix that does not decode to UTF-8: '\(DisplayText.escape(prefix))'")
                }
                return decoded
            }
        }
        switch top["IsTruncated"] {
        case "false":
            return (entries, prefixes, nil)
        case "true":
            guard let next = top["NextContinuationToken"], !next.isEmpty else {
                throw SyncError.failed("\(what) says more keys follow (IsTruncated) but gives no NextContinuationToken")
            }
            return (entries, prefixes, next)
        default:
            throw SyncError.failed("\(what) does not say whether more keys follow (IsTruncated is \(top["IsTruncated"].map { "'\(DisplayText.escape($0))'" } ?? "missing"))")
        }
    }

    /// Every object under `prefix`, page by page (ListObjectsV2, 1000 keys per page).
    public func list(prefix: String, _ page: ([ObjectEntry]) async throws -> Void) async throws {
        var token: String?
        repeat {
            let result = try await listPage(prefix: prefix, token: token)
            try await page(result.entries)
            token = result.next
        } while token != nil
    }

    /// Everything under `prefix`, keyed by the object key's bytes.
    public func listAll(prefix: String) async throws -> [ByteKey: ObjectEntry] {
        var all: [ByteKey: ObjectEntry] = [:]
        try await list(prefix: prefix) { page in for entry in page { all[entry.id] = entry } }
        return all
    }

    /// Size, ETag and replication status of one object; nil when it does not exist.
    public func head(_ key: String) async throws -> (entry: ObjectEntry, replicationStatus: String?)? {
        let response = try await describeFailure("HEAD '\(key)'") { try await self.request("HEAD", key: key, allow: [404]) }
        guard response.status != 404 else { return nil }
        let modified = response.headers["last-modified"].flatMap { HTTPDate.parse($0) } ?? Date(timeIntervalSince1970: 0)
        let entry = ObjectEntry(key: key, size: Int64(response.headers["content-length"] ?? "") ?? 0,
                                etag: (response.headers["etag"] ?? "").trimmingCharacters(in: CharacterSet(charactersIn: "\"")), lastModified: modified)
        return (entry, response.headers["x-amz-replication-status"])
    }

    /// Streams an object's body to `sink`; false from the sink aborts. Returns the object's ETag,
    /// metadata and full-object checksums (asked for with checksum mode), or nil when it does not exist.
    @discardableResult
    public func get(_ key: String, sink: @escaping @Sendable (UnsafeRawBufferPointer) -> Bool) async throws
        -> (etag: String, metadata: ObjectMetadata, checksums: FullObjectChecksums)? {
        let response = try await describeFailure("GET '\(key)'") {
            try await self.request("GET", key: key, headers: ["x-amz-checksum-mode: ENABLED"], allow: [404], sink: sink)
        }
        guard response.status != 404 else { return nil }
        let etag = (response.headers["etag"] ?? "").trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        return (etag, ObjectMetadata(headers: response.headers), FullObjectChecksums(headers: response.headers, etag: etag))
    }

    /// An object's tags (GetObjectTagging); nil when the object does not exist.
    public func tags(_ key: String) async throws -> [ByteKey: String]? {
        let response = try await describeFailure("reading the tags of '\(key)'") {
            try await self.request("GET", key: key, query: [("tagging", "")], allow: [404])
        }
        guard response.status != 404 else { return nil }
        guard let parsed = S3XML.parse(response.body, record: "Tag") else {
            throw SyncError.failed("\(label): the tags of '\(key)' are not valid XML")
        }
        // Tag keys are the store's names: two spellings of one word are two tags.
        var tags: [ByteKey: String] = [:]
        for tag in parsed.records { if let name = tag["Key"] { tags[ByteKey(name)] = tag["Value"] ?? "" } }
        return tags
    }

    /// An object's Content-Type, Content-Encoding, Cache-Control, Content-Disposition and user
    /// metadata; nil when it does not exist.
    public func metadata(_ key: String) async throws -> ObjectMetadata? {
        let response = try await describeFailure("HEAD '\(key)'") { try await self.request("HEAD", key: key, allow: [404]) }
        guard response.status != 404 else { return nil }
        return ObjectMetadata(headers: response.headers)
    }

    /// S3's limit for a single PUT.
    static let singlePutLimit: Int64 = 5 << 30

    /// Uploads a file as the object `key`: one PUT, or a multipart upload when the file is big
    /// (unless `singlePart`, which keeps a single-part source's ETag, its MD5, comparable).
    /// `exactParts` forces a multipart upload in parts of that size (to reproduce another copy's layout).
    /// `checksums`: full-object checksums the store checks the bytes against and keeps (a single PUT
    /// only), so a later content check settles the copy without reading it.
    public func put(_ key: String, file: String, size: Int64, multipartThreshold: Int64, partSize: Int64, singlePart: Bool = false,
                    exactParts: Int64? = nil, metadata: ObjectMetadata? = nil, checksums: FullObjectChecksums? = nil) async throws {
        let partSize = exactParts ?? partSize
        let headers = metadata?.requestHeaders ?? []
        if exactParts == nil, size < multipartThreshold || (singlePart && size <= Self.singlePutLimit) {
            let sums = ChecksumAlgorithm.allCases.compactMap { algorithm in
                checksums?.values[algorithm].map { "x-amz-checksum-\(algorithm.rawValue): \($0)" }
            }
            _ = try await describeFailure("PUT '\(key)'") {
                try await self.request("PUT", key: key, headers: headers + sums, body: .file(path: file, offset: 0, length: size))
            }
            return
        }
        let created = try await describeFailure("starting a multipart upload of '\(key)'") {
            try await self.request("POST", key: key, query: [("uploads", "")], headers: headers)
        }
        guard let uploadID = S3XML.parse(created.body, record: "_")?.top["UploadId"] else {
            throw SyncError.failed("\(label): no UploadId in the answer to a multipart upload of '\(key)'")
        }
        do {
            var parts: [(Int, String)] = []
            var offset: Int64 = 0
            var number = 1
            while offset < size {
                let length = min(partSize, size - offset)
                let response = try await describeFailure("uploading part \(number) of '\(key)'") {
                    try await self.request("PUT", key: key, query: [("partNumber", String(number)), ("uploadId", uploadID)],
                                           body: .file(path: file, offset: offset, length: length))
                }
                parts.append((number, response.headers["etag"] ?? ""))
                offset += length
                number += 1
            }
            let document = "<CompleteMultipartUpload>" + parts.map { "<Part><PartNumber>\($0.0)</PartNumber><ETag>\($0.1)</ETag></Part>" }.joined()
                + "</CompleteMultipartUpload>"
            _ = try await describeFailure("completing the multipart upload of '\(key)'") {
                try await self.request("POST", key: key, query: [("uploadId", uploadID)], headers: ["Content-Type: application/xml"],
                                       body: .bytes(Array(document.utf8)))
            }
        } catch {
            _ = try? await request("DELETE", key: key, query: [("uploadId", uploadID)])
            throw error
        }
    }

    /// The size of part 1 of a multipart object (HEAD ?partNumber=1), where the server tells it.
    public func firstPartSize(_ key: String) async -> Int64? {
        guard let response = try? await request("HEAD", key: key, query: [("partNumber", "1")]),
              response.headers["x-amz-mp-parts-count"] != nil else { return nil }
        return Int64(response.headers["content-length"] ?? "")
    }

    public func delete(_ key: String) async throws {
        _ = try await describeFailure("DELETE '\(key)'") { try await self.request("DELETE", key: key, allow: [404]) }
    }

    public func createBucket() async throws {
        _ = try await describeFailure("creating bucket '\(store.bucket)'") { try await self.request("PUT", allow: [409]) }
    }

    /// HTTP errors named with the side, the operation and what to do about the common ones.
    func describeFailure<T>(_ what: String, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as HTTPError {
            switch error.code {
            case "NoSuchBucket":
                throw SyncError.invalidState("\(label): bucket '\(store.bucket)' does not exist (\(what))")
            case "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken", "ExpiredToken":
                throw SyncError.unreachable(side: label, message: "\(what): access denied (\(error.code ?? "")): \(error.message); check access_key, secret_key and region")
            default:
                throw SyncError.failed("\(label): \(what) failed: \(error)")
            }
        }
    }

    /// The object's full-object checksums (HEAD with `x-amz-checksum-mode: ENABLED`); nil when it
    /// does not exist. Stores that keep none answer without them: an empty set.
    public func fullObjectChecksums(_ key: String) async throws -> FullObjectChecksums? {
        let response = try await describeFailure("HEAD '\(key)' (checksums)") {
            try await self.request("HEAD", key: key, headers: ["x-amz-checksum-mode: ENABLED"], allow: [404])
        }
        guard response.status != 404 else { return nil }
        return FullObjectChecksums(headers: response.headers, etag: (response.headers["etag"] ?? "").trimmingCharacters(in: CharacterSet(charactersIn: "\"")))
    }

    /// SHA-256 of an object's content, streamed (nil when it does not exist).
    public func contentHash(_ key: String) async throws -> [UInt8]? {
        let hasher = StreamingHash()
        guard try await get(key, sink: { hasher.update($0); return true }) != nil else { return nil }
        return hasher.finish()
    }
}

/// SHA-256 fed from curl's write callback.
final class StreamingHash: @unchecked Sendable {
    private var hasher = SHA256()
    private let lock = NSLock()

    func update(_ bytes: UnsafeRawBufferPointer) {
        lock.withLock { hasher.update(bufferPointer: bytes) }
    }

    func finish() -> [UInt8] {
        lock.withLock { Array(hasher.finalize()) }
    }
}

/// RFC 7231 dates of Last-Modified headers.
enum HTTPDate {
    static func parse(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: text)
    }
}
