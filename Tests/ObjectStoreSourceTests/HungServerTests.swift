import Foundation
import Testing
import TestSupport
@testable import ObjectStoreSource
@testable import SyncCore

extension SeaweedClusters {
    @Suite struct S3HungServerTests {
        @Test("a frozen DR cluster fails the gate within one poll interval plus poll_timeout, and the source recovers after the thaw")
        func frozenDRClusterFailsTheGateAtOnce() async throws {
            let prefix = TestS3.unique("hung") + "/"
            try await TestS3.put(TestS3.bucket(.primary, TestS3.replicatedBucket), "\(prefix)a", "payload")
            let config = withPollTiming(TestS3.source("s3-hung", mode: .native, primaryBucket: TestS3.replicatedBucket,
                                                      drBucket: TestS3.replicatedBucket, prefix: prefix),
                                        interval: 0.5, timeout: 2)
            let observed = try await observeHungServer(
                config: config, adapter: ObjectStoreSource(config: config),
                freeze: { try await TestS3.script("freeze", "dr") },
                thaw: { try await TestS3.script("thaw", "dr") })
            #expect(observed.brokenPromises.isEmpty, "\(observed.brokenPromises)")
        }
    }
}
