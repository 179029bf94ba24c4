import Foundation
import Testing
import TestSupport
@testable import RedisSource
@testable import SyncCore

extension RedisServers {
    @Suite struct RedisHungServerTests {
        @Test("a frozen replica fails the gate within one poll interval plus poll_timeout, and the source recovers after the thaw")
        func frozenReplicaFailsTheGateAtOnce() async throws {
            try await TestRedis.script("reset")
            let config = withPollTiming(TestRedis.replicaPair, interval: 0.5, timeout: 1.5)
            let observed = try await observeHungServer(
                config: config, adapter: RedisSource(config: config),
                freeze: { try await TestRedis.script("freeze", "replica") },
                thaw: { try await TestRedis.script("thaw", "replica") })
            #expect(observed.brokenPromises.isEmpty, "\(observed.brokenPromises)")
        }
    }
}
