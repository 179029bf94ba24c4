import Foundation
import PostgresJournal
import Testing
@testable import SyncCore

/// The leader lease in the shared journal's database, with two instances contending for it: in
/// the journal's serialized suite, since one of its tests stops the journal cluster.
extension PostgresJournalTests {
    var east: InstanceIdentity { InstanceIdentity(id: "east", site: "site-a", url: "https://east.example:8443") }
    var west: InstanceIdentity { InstanceIdentity(id: "west", site: "site-b", url: "https://west.example:8443") }

    @Test("one holder at a time; renewal keeps the token; a takeover after expiry and a release each start a new term with a larger token")
    func leaseAndFencingToken() async throws {
        let database = JournalDatabase()
        defer { Task { await database.drop() } }
        _ = try await database.create()
        let lease = PostgresLease(endpoint: JournalDatabase.endpoint(database.name), sslmode: nil)
        let other = PostgresLease(endpoint: JournalDatabase.endpoint(database.name), sslmode: nil)

        let first = try await lease.acquire(east, ttlSeconds: 2)
        #expect(first.isMine && first.holder == "east")
        let refused = try await other.acquire(west, ttlSeconds: 2)
        #expect(!refused.isMine && refused.holder == "east" && refused.holderURL == "https://east.example:8443" && refused.token == first.token)
        let renewed = try await lease.acquire(east, ttlSeconds: 2)
        #expect(renewed.isMine && renewed.token == first.token, "renewing keeps the term")

        try await Task.sleep(for: .milliseconds(2300))
        let takeover = try await other.acquire(west, ttlSeconds: 2)
        #expect(takeover.isMine && takeover.holder == "west" && takeover.token == first.token + 1, "\(takeover)")
        let late = try await lease.acquire(east, ttlSeconds: 2)
        #expect(!late.isMine && late.holder == "west", "the old holder cannot renew a lease another took")

        await other.release(west)
        let back = try await lease.acquire(east, ttlSeconds: 2)
        #expect(back.isMine && back.token == takeover.token + 1, "a released lease is taken at once, in a new term")
    }

    @Test("heartbeats list every instance with its site, URL, role and age")
    func instancesHeartbeat() async throws {
        let database = JournalDatabase()
        defer { Task { await database.drop() } }
        _ = try await database.create()
        let lease = PostgresLease(endpoint: JournalDatabase.endpoint(database.name), sslmode: nil)
        try await lease.heartbeat(east, role: "leader")
        try await lease.heartbeat(west, role: "follower")
        try await lease.heartbeat(west, role: "follower")
        let instances = try await lease.instances()
        #expect(instances.map(\.id) == ["east", "west"])
        #expect(instances.map(\.role) == ["leader", "follower"] && instances[1].site == "site-b" && instances[0].url == east.url)
        #expect(instances.allSatisfy { $0.heartbeatAgeSeconds >= 0 && $0.heartbeatAgeSeconds < 5 })
    }

    @Test("the write fence closes at its deadline even when no renewal says otherwise (a paused leader)")
    func fenceExpiresLocally() async throws {
        let fence = WriteFence(alwaysLeader: false)
        #expect(!fence.allows() && fence.token == nil)
        fence.grant(token: 7, until: .now + .milliseconds(300))
        #expect(fence.allows() && fence.token == 7)
        try await Task.sleep(for: .milliseconds(400))
        #expect(!fence.allows() && fence.token == nil)
        #expect(WriteFence(alwaysLeader: true).allows(), "one instance without a shared journal always writes")
    }
}
