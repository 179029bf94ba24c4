import Crypto
import CurlClient
import Foundation

/// The part size of a multipart object, so a copy can be uploaded in the same layout and get the
/// same ETag (MD5 of the parts' MD5s, "-" and the part count). S3 keeps no part size in a listing:
/// the primary is asked for part 1's size (HEAD ?partNumber=1, where the server supports it), and
/// each candidate is proved against the ETag by hashing the spooled copy.
enum PartLayout {
    /// The part count a multipart ETag names ("…-3" → 3), nil for a single-part ETag.
    static func partCount(etag: String) -> Int? {
        guard let dash = etag.lastIndex(of: "-") else { return nil }
        return Int(etag[etag.index(after: dash)...]).flatMap { $0 > 0 ? $0 : nil }
    }

    /// Part sizes that split `size` bytes into exactly `parts` parts, most likely first: the hinted
    /// size, the configured one, the common uploader defaults, then every other whole MiB.
    static func candidates(size: Int64, parts: Int, hints: [Int64], limit: Int = 24) -> [Int64] {
        func fits(_ partSize: Int64) -> Bool {
            partSize > 0 && (size + partSize - 1) / partSize == Int64(parts) && (parts > 1 || partSize >= size)
        }
        let mib: Int64 = 1 << 20
        var ordered = hints + [5, 8, 10, 15, 16, 25, 32, 50, 64, 100, 128, 256, 512].map { $0 * mib }
        if parts > 1 {
            // Every whole MiB with ceil(size / p) == parts: p in [size / parts, size / (parts - 1)).
            let low = max(1, (size / Int64(parts) + mib - 1) / mib)
            let high = (size - 1) / Int64(parts - 1) / mib
            if low <= high { ordered += stride(from: low, through: min(high, low + Int64(limit)), by: 1).map { $0 * mib } }
            ordered.append((size + Int64(parts) - 1) / Int64(parts))
        } else {
            ordered.append(size)
        }
        var seen = Set<Int64>()
        return Array(ordered.filter { fits($0) && seen.insert($0).inserted }.prefix(limit))
    }

    /// The multipart ETag a file would get when uploaded in parts of `partSize` (lower-case hex).
    static func etag(file path: String, size: Int64, partSize: Int64) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw CocoaError(.fileReadNoPermission) }
        defer { try? handle.close() }
        var digests: [UInt8] = []
        var parts = 0
        var offset: Int64 = 0
        while offset < size {
            var hasher = Insecure.MD5()
            var left = min(partSize, size - offset)
            while left > 0 {
                let chunk = try handle.read(upToCount: Int(min(left, 1 << 20))) ?? Data()
                guard !chunk.isEmpty else { throw CocoaError(.fileReadCorruptFile) }
                hasher.update(data: chunk)
                left -= Int64(chunk.count)
            }
            digests += Array(hasher.finalize())
            offset += min(partSize, size - offset)
            parts += 1
        }
        let whole = Insecure.MD5.hash(data: digests)
        return whole.map { String(format: "%02x", $0) }.joined() + "-\(parts)"
    }

    /// The part size whose upload reproduces `etag`, or nil when no candidate does.
    static func find(etag: String, file: String, size: Int64, hints: [Int64]) throws -> Int64? {
        guard let parts = partCount(etag: etag) else { return nil }
        let wanted = etag.lowercased()
        for candidate in candidates(size: size, parts: parts, hints: hints) where try Self.etag(file: file, size: size, partSize: candidate) == wanted {
            return candidate
        }
        return nil
    }
}
