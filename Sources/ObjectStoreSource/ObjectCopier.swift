import CurlClient
import Foundation
import SyncCore

/// Copies objects from the primary bucket to the DR bucket: each GET streams into a temporary
/// file (never the whole object in memory), then a PUT — multipart when big — streams it out.
/// Failed copies are retried with backoff.
struct ObjectCopier: Sendable {
    let primary: S3Bucket
    let dr: S3Bucket
    let options: ObjectStoreOptions
    static let attempts = 4

    /// Copies `keys` with at most `options.concurrency` transfers at once; returns how many were
    /// copied and the failures, one per key (a list, not a dictionary keyed by String: two keys
    /// that differ only in Unicode normalisation are two objects). A key the primary no longer has is skipped.
    func copy(_ keys: [String]) async -> (copied: Int, skipped: Int, failures: [CopyFailure]) {
        var copied = 0
        var skipped = 0
        var failures: [CopyFailure] = []
        var pending = keys[...]
        await withTaskGroup(of: (String, Result<Bool, Error>).self) { group in
            var running = 0
            while true {
                while running < options.concurrency, let key = pending.popFirst() {
                    running += 1
                    group.addTask {
                        do { return (key, .success(try await copyWithRetries(key))) } catch { return (key, .failure(error)) }
                    }
                }
                guard let (key, result) = await group.next() else { break }
                running -= 1
                switch result {
                case .success(true): copied += 1
                case .success(false): skipped += 1
                case let .failure(error): failures.append(CopyFailure(key: key, reason: "\(error)"))
                }
            }
        }
        // The first failure named is the same whichever transfer ended first.
        return (copied, skipped, failures.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) })
    }

    func copyWithRetries(_ key: String) async throws -> Bool {
        var delay = 0.25
        for attempt in 1...Self.attempts {
            do {
                return try await copyOnce(key)
            } catch let error as SyncError {
                // Access denied or a missing bucket do not heal by retrying.
                if case .invalidState = error { throw error }
                if attempt == Self.attempts { throw error }
            }
            try await Task.sleep(for: .seconds(delay))
            delay *= 2
        }
        return false
    }

    /// One GET to a temporary file and one PUT from it; false when the primary no longer has the key.
    func copyOnce(_ key: String) async throws -> Bool {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("syncd-copy-\(UUID().uuidString)").path
        guard FileManager.default.createFile(atPath: path, contents: nil), let file = FileHandle(forWritingAtPath: path) else {
            throw SyncError.failed("cannot create a temporary file at \(path) to copy '\(key)'")
        }
        defer { try? FileManager.default.removeItem(atPath: path) }
        let writer = SpoolWriter(file: file)
        let got = try await primary.get(key) { writer.write($0) }
        try file.close()
        if let failure = writer.failure { throw SyncError.failed("writing '\(key)' to \(path): \(failure)") }
        guard let got else { return false }
        let etag = got.etag
        var metadata = got.metadata
        // Tags cost a request of their own: carried where they are compared.
        if options.compareMetadata { metadata.tags = try await primary.tags(key) }
        // A single-part source is copied in one PUT so that both ETags are the content's MD5, and a
        // multipart source in the primary's own part layout, so that both ETags are equal and a listing
        // can compare them. A layout no candidate reproduces falls back to `part_size`.
        var layout: Int64?
        if PartLayout.partCount(etag: etag) != nil {
            let hint = await primary.firstPartSize(key)
            layout = try PartLayout.find(etag: etag, file: path, size: writer.written, hints: [hint, options.partSize].compactMap { $0 })
        }
        // The metadata travels with the bytes: a copy without its Content-Type breaks clients.
        try await dr.put(key, file: path, size: writer.written, multipartThreshold: options.multipartThreshold, partSize: options.partSize,
                         singlePart: !etag.contains("-"), exactParts: layout, metadata: metadata, checksums: got.checksums)
        return true
    }
}

/// One object the copy could not write to the DR side, and why.
struct CopyFailure: Sendable, CustomStringConvertible {
    var key: String
    var reason: String
    var description: String { "'\(DisplayText.escape(key))': \(reason)" }
}

/// Appends streamed bytes to a file; remembers the first failure.
final class SpoolWriter: @unchecked Sendable {
    let file: FileHandle
    private(set) var written: Int64 = 0
    private(set) var failure: String?

    init(file: FileHandle) {
        self.file = file
    }

    func write(_ bytes: UnsafeRawBufferPointer) -> Bool {
        do {
            try file.write(contentsOf: Data(bytes))
            written += Int64(bytes.count)
            return true
        } catch {
            failure = "\(error)"
            return false
        }
    }
}

/// syncd's own replication of a bucket (mode: managed): every cycle lists both sides and copies
/// what is missing or stale. Runs in the daemon; pause, resume and force full sync drive it.
final class ManagedReplication: @unchecked Sendable {
    enum Phase: String, Sendable { case stopped, running, paused, failed }

    private let lock = NSLock()
    private var phase: Phase = .stopped
    private var pauseRequested = false
    private var fullSyncWaiters: [CheckedContinuation<Int, Error>] = []
    private var lastError: String?
    private var copiedTotal = 0

    var status: (phase: Phase, error: String?, copied: Int) { lock.withLock { (phase, lastError, copiedTotal) } }
    var isHosted: Bool { lock.withLock { phase != .stopped } }
    var isPaused: Bool { lock.withLock { pauseRequested } }
    func pause() { lock.withLock { pauseRequested = true } }
    func resume() { lock.withLock { pauseRequested = false } }

    /// Copies every object again, equal or not; returns how many were copied.
    func fullSync() async throws -> Int {
        try await withCheckedThrowingContinuation { continuation in
            lock.withLock {
                fullSyncWaiters.append(continuation)
                pauseRequested = false
            }
        }
    }

    func run(copier: ObjectCopier, scan: BucketScan, prefix: String, interval: Duration) async {
        lock.withLock { phase = .running }
        while !Task.isCancelled {
            let (paused, waiters) = lock.withLock { () -> (Bool, [CheckedContinuation<Int, Error>]) in
                defer { fullSyncWaiters = [] }
                return (pauseRequested, fullSyncWaiters)
            }
            if paused, waiters.isEmpty {
                lock.withLock { phase = .paused }
                try? await Task.sleep(for: .milliseconds(100))
                continue
            }
            do {
                var keys: [String] = []
                if waiters.isEmpty {
                    keys = try await scan.compare(prefix: prefix).backlog.map(\.key)
                } else {
                    try await copier.primary.list(prefix: prefix) { page in keys += page.map(\.key) }
                }
                // In S3's own listing order (UTF-8 bytes), not String's.
                keys.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
                let outcome = await copier.copy(keys)
                lock.withLock {
                    copiedTotal += outcome.copied
                    if let first = outcome.failures.first {
                        phase = .failed
                        lastError = "\(outcome.failures.count) object(s) could not be copied, e.g. \(first)"
                    } else {
                        phase = pauseRequested ? .paused : .running
                        lastError = nil
                    }
                }
                if outcome.failures.isEmpty {
                    waiters.forEach { $0.resume(returning: outcome.copied) }
                } else {
                    waiters.forEach { $0.resume(throwing: SyncError.failed(lock.withLock { lastError } ?? "copy failed")) }
                }
            } catch {
                lock.withLock {
                    phase = .failed
                    lastError = "\(error)"
                }
                waiters.forEach { $0.resume(throwing: error) }
            }
            try? await Task.sleep(for: interval)
        }
        let left = lock.withLock { defer { fullSyncWaiters = [] }; return fullSyncWaiters }
        left.forEach { $0.resume(throwing: SyncError.invalidState("the managed replication stopped")) }
        lock.withLock { phase = .stopped }
    }
}
