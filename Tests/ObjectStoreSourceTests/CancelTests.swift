import Foundation
import Testing
import TestSupport
@testable import CurlClient
@testable import ObjectStoreSource
@testable import SyncCore

extension SeaweedClusters {
    @Suite struct S3CancelTests {
        @Test("cancelling a transfer that waits on a frozen server aborts it at once, not at the request timeout")
        func cancellingAWaitingTransferAbortsIt() async throws {
            try await TestS3.script("freeze", "dr")
            let call: CancelledCall
            do {
                let pool = CurlPool(size: 1)
                let started = StartFlag()
                // The stopped server accepts the connection (the kernel does) but never answers.
                call = try await cancel(once: { started.started(before: .milliseconds(300)) }) {
                    started.set()
                    _ = try await pool.perform(HTTPRequest(method: "GET", url: "\(TestS3.drURL)/\(TestS3.replicatedBucket)",
                                                           connectTimeoutSeconds: 2, timeoutSeconds: 60))
                }
            } catch {
                try await TestS3.script("thaw", "dr")
                throw error
            }
            try await TestS3.script("thaw", "dr")
            #expect(call.threwCancellation, "\(String(describing: call.error))")
            #expect(call.afterCancel < .seconds(3), "the cancelled transfer ran on for \(call.afterCancel)")
        }
    }
}
