import CCurl
import CCurlShim
import Foundation
import SyncCore

/// A bounded pool of curl handles, each used by one transfer at a time on its own thread:
/// at most `size` transfers run at once.
public actor CurlPool {
    private var idle: [(CurlHandle, BlockingQueue)] = []
    private var created = 0
    private let size: Int
    private var waiters: [CheckedContinuation<(CurlHandle, BlockingQueue), Never>] = []

    public init(size: Int) {
        self.size = max(1, size)
    }

    private func acquire() async throws -> (CurlHandle, BlockingQueue) {
        if let entry = idle.popLast() { return entry }
        if created < size {
            created += 1
            return (try CurlHandle(), BlockingQueue(label: "syncd.curl.\(created)"))
        }
        return await withCheckedContinuation { waiters.append($0) }
    }

    private func release(_ entry: (CurlHandle, BlockingQueue)) {
        if waiters.isEmpty { idle.append(entry) } else { waiters.removeFirst().resume(returning: entry) }
    }

    /// Runs one request on a pooled handle, off the cooperative pool. Cancelling the calling task
    /// aborts the transfer (CancellationError). `sink` streams a 2xx body instead of collecting it;
    /// returning false aborts the transfer.
    public func perform(_ request: HTTPRequest, sink: (@Sendable (UnsafeRawBufferPointer) -> Bool)? = nil) async throws -> HTTPResponse {
        let entry = try await acquire()
        defer { release(entry) }
        let handle = entry.0
        return try await entry.1.runCancellable { token in try handle.perform(request, cancellation: token, sink: sink) }
    }
}
