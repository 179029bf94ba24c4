import Foundation
import Logging
import Metrics
import SQLiteJournal
import Testing
import TestSupport
@testable import SyncCore
@testable import SyncManager

/// A lease whose holder the test decides: the manager's leadership logic without a database (the
/// real lease is tested against PostgreSQL in PostgresJournalTests).
actor ScriptedLease: LeaseStore {
    var holder: String?
    var token: Int64 = 1
    var failing = false
    func set(holder: String?) { self.holder = holder; token += 1 }
    func set(failing: Bool) { self.failing = failing }

    func acquire(_ instance: InstanceIdentity, ttlSeconds: Double) async throws -> LeaseState {
        if failing { throw JournalError(message: "the journal database 127.0.0.1:1/syncd is unreachable") }
        return LeaseState(holder: holder, holderURL: holder.map { "https://\($0):8443" }, token: token, expiresAt: nil, isMine: holder == instance.id)
    }
    func release(_ instance: InstanceIdentity) async {}
    func heartbeat(_ instance: InstanceIdentity, role: String) async throws {}
    func instances() async throws -> [InstanceRecord] { [] }
}

@Suite struct LeadershipTests {
    func manager(_ adapter: ScriptedAdapter, lease: ScriptedLease, fence: WriteFence) throws -> SyncManager {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("syncd-lead-\(UUID().uuidString)/journal.sqlite").path
        return SyncManager(sources: [(ManagerTests.config(), adapter)], journal: try SQLiteJournal(path: path), historySize: 100,
                           metricsFactory: NOOPMetricsHandler.instance, logger: Logger(label: "test"),
                           leadership: LeadershipSettings(store: lease, instance: InstanceIdentity(id: "me", site: "a", url: nil), ttlSeconds: 0.6),
                           fence: fence)
    }

    @Test("a follower refuses leader-only work naming the leader; losing the lease interrupts a running cutover, journaled")
    func leaseDecidesLeaderWork() async throws {
        let adapter = ScriptedAdapter(name: "scripted")
        await adapter.set(checkScopes: [TableCheckResult(table: "t", status: .equal, primaryRows: 1, drRows: 1)], duration: .seconds(30))
        let lease = ScriptedLease()
        await lease.set(holder: "other")
        let fence = WriteFence(alwaysLeader: false)
        let manager = try manager(adapter, lease: lease, fence: fence)
        let running = Task { try await manager.run() }
        defer { running.cancel() }

        try await Task.sleep(for: .milliseconds(400))
        #expect(!fence.allows())
        await #expect(throws: NotLeaderError.self) { _ = try await manager.startCutover(CutoverRequest(), actor: "test") }
        do {
            _ = try await manager.startCutover(CutoverRequest(), actor: "test")
        } catch let error as NotLeaderError {
            #expect(error.description.contains("the leader is other") && error.remedy?.contains("https://other:8443") == true, "\(error)")
        }

        await lease.set(holder: "me")
        #expect(try await eventually(timeout: .seconds(5)) { fence.allows() })
        #expect(await manager.cluster()?.role == "leader")
        let run = try await manager.startCutover(CutoverRequest(drill: true), actor: "test")
        await lease.set(holder: "other")
        #expect(try await eventually(timeout: .seconds(5)) { await manager.cutoverRun(id: run.id)?.status != .running })
        #expect(!fence.allows())
        let entries = try await manager.journal.recent(limit: 50, source: nil, kind: "cutover")
        let interrupted = try #require(entries.first { $0.action == "interrupted" })
        #expect(interrupted.detail?["runs"] == .array([.string(run.id)]) && interrupted.detail?["reason"] == .string("the lease passed to other"))
    }

    @Test("without the lease's database no instance leads and the gate fails closed with the reason, until it returns")
    func journalDownFailsClosed() async throws {
        let lease = ScriptedLease()
        await lease.set(holder: "me")
        let fence = WriteFence(alwaysLeader: false)
        let manager = try manager(ScriptedAdapter(name: "scripted"), lease: lease, fence: fence)
        let running = Task { try await manager.run() }
        defer { running.cancel() }
        #expect(try await eventually(timeout: .seconds(5)) { fence.allows() })
        await lease.set(failing: true)
        #expect(try await eventually(timeout: .seconds(5)) { !fence.allows() })
        await #expect(throws: JournalUnavailableError.self) { _ = try await manager.evaluateGate(sources: nil, actor: "test") }
        await lease.set(failing: false)
        #expect(try await eventually(timeout: .seconds(5)) { fence.allows() })
        _ = try await manager.evaluateGate(sources: nil, actor: "test")
    }
}
