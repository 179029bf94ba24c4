import Foundation
import Logging
import Prometheus
import SQLiteJournal
import Testing
import TestSupport
@testable import PostgresClient
@testable import PostgresSource
@testable import SyncCore
@testable import SyncManager

extension PostgresReplicationTests {
    @Test("a DR sequence behind the primary's (or missing) fails the check and the gate by itself, outside the ratio; reconcile moves it up; a physical standby skips sequences")
    func sequencesBehindFailTheGateAndReconcileSetsThem() async throws {
        let suffix = UUID().uuidString.prefix(6).lowercased()
        let sequence = "seq_\(suffix)", lonely = "lonely_\(suffix)"
        try await CheckTables.create("seqrows_\(suffix)", "id bigint PRIMARY KEY")
        try await CheckTables.both("INSERT INTO checks.seqrows_\(suffix) SELECT g FROM generate_series(1, 50) g;\nCREATE SEQUENCE checks.\(sequence)")
        try await CheckTables.run(TestServers.publisher, "SELECT nextval('checks.\(sequence)') FROM generate_series(1, 42)")
        try await CheckTables.run(TestServers.subscriber, "SELECT nextval('checks.\(sequence)') FROM generate_series(1, 10)")
        try await CheckTables.run(TestServers.publisher, "CREATE SEQUENCE checks.\(lonely)")
        defer {
            Task {
                try? await CheckTables.both("DROP SEQUENCE IF EXISTS checks.\(sequence);\nDROP SEQUENCE IF EXISTS checks.\(lonely);\nDROP TABLE IF EXISTS checks.seqrows_\(suffix)")
            }
        }

        let manager = try reconcileManager(tables: ["checks.seqrows_\(suffix)"])
        let result = try await manager.check(source: "pg-logical", options: CheckOptions(fullDiff: true), actor: "test")
        #expect(result.status == .fail && result.ratio == 1 && result.missing + result.extra + result.changed == 0, "rows are equal: \(result.ratio)")
        let behind = try #require(result.diffs.first { $0.table == "checks.\(sequence)" })
        #expect(behind.kind == .sequence && behind.detail == "DR at 10, primary at 42", "\(behind)")
        #expect(result.diffs.contains { $0.table == "checks.\(lonely)" && $0.detail?.contains("missing on the DR side") == true })
        await manager.monitors[0].poll()
        let gate = try await manager.evaluateGate(sources: ["pg-logical"], actor: "test")
        #expect(gate.status == .fail)
        #expect(gate.sources[0].reasons.contains { $0.contains("sequence checks.\(sequence) is behind on the DR side (DR at 10, primary at 42)") }, "\(gate.sources[0].reasons)")

        // The missing one cannot be set; create it on the DR side first, as an operator would.
        try await CheckTables.run(TestServers.subscriber, "CREATE SEQUENCE checks.\(lonely)")
        let plan = try await manager.reconcile(source: "pg-logical", apply: false, actor: "test")
        #expect(plan.plan.batches.compactMap(\.sequence).sorted() == ["checks.\(lonely)", "checks.\(sequence)"].sorted(), "\(plan.plan.batches)")
        try await CheckTables.run(TestServers.publisher, "SELECT nextval('checks.\(lonely)')")
        let applied = try await manager.reconcile(source: "pg-logical", apply: true, actor: "test")
        #expect(applied.outcome?.sequencesSet == 2 && applied.outcome?.status == .pass, "\(String(describing: applied.outcome))")
        let after = try await manager.check(source: "pg-logical", options: CheckOptions(fullDiff: true), actor: "test")
        #expect(after.status == .pass && after.diffs.isEmpty, "\(after.diffs) \(after.blockers ?? [])")

        // A standby replays sequences with the WAL: nothing to compare there.
        let physical = try await PostgresSource(config: TestServers.physical).check(CheckOptions(), progress: { _ in })
        #expect(!physical.diffs.contains { $0.kind == .sequence })
    }
}
