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
    /// A manager over the logical pair, checking only `tables`, with its own journal.
    func reconcileManager(tables: [String]) throws -> SyncManager {
        let config = CheckTables.source(tables: tables)
        let journal = try SQLiteJournal(path: FileManager.default.temporaryDirectory
            .appendingPathComponent("syncd-reconcile-\(UUID().uuidString)/journal.sqlite").path)
        return SyncManager(sources: [(config, PostgresSource(config: config))], journal: journal, historySize: 10,
                           metricsFactory: PrometheusMetricsFactory(registry: PrometheusCollectorRegistry()), logger: Logger(label: "test"))
    }

    /// Whole-table count + hash on one side, to prove a side was (not) changed.
    func fingerprint(_ endpoint: EndpointConfig, _ table: String) async throws -> String {
        let connection = try await TestServers.connect(endpoint)
        let rows = try await connection.query("SELECT count(*)::text || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') AS f FROM \(table) t")
        return rows.value(0, "f") ?? ""
    }

    func plantReconcileTable(_ name: String, rows: Int = 20000) async throws {
        try await CheckTables.create(name, "id bigint PRIMARY KEY, name text, amount numeric(12,2), doc jsonb, at timestamptz")
        try await CheckTables.both("""
            INSERT INTO checks.\(name) SELECT g, 'n' || g, g * 1.25, jsonb_build_object('g', g), '2024-01-01'::timestamptz + g * interval '1 minute'
            FROM generate_series(1, \(rows)) g
            """)
    }

    @Test func reconcileDryRunChangesNothingAndApplyThenVerifyPasses() async throws {
        try await plantReconcileTable("rec")
        try await CheckTables.run(TestServers.subscriber, """
            DELETE FROM checks.rec WHERE id IN (5, 500);
            UPDATE checks.rec SET name = 'x', doc = '{}' WHERE id = 777;
            UPDATE checks.rec SET at = NULL WHERE id = 778;
            INSERT INTO checks.rec VALUES (200000, 'extra', 1, NULL, now())
            """)
        let manager = try reconcileManager(tables: ["checks.rec"])
        let primaryBefore = try await fingerprint(TestServers.publisher, "checks.rec")
        let before = try await manager.check(source: "pg-logical", options: CheckOptions(fullDiff: true), actor: "test")
        #expect(before.missing == 2 && before.extra == 1 && before.changed == 2)

        let drBefore = try await fingerprint(TestServers.subscriber, "checks.rec")
        let dryRun = try await manager.reconcile(source: "pg-logical", apply: false, actor: "test")
        #expect(dryRun.mode == "dry-run")
        #expect(dryRun.outcome == nil)
        #expect(dryRun.plan.upserts == 4 && dryRun.plan.deletes == 1)
        #expect(dryRun.plan.batches.count == 1)
        #expect(dryRun.plan.batches[0].statements.count == 2)
        #expect(dryRun.plan.batches[0].statements[0].hasPrefix(#"INSERT INTO "checks"."rec""#))
        #expect(dryRun.plan.batches[0].statements[1] == #"DELETE FROM "checks"."rec" WHERE "id" IN ($1::bigint)"#)
        #expect(try await fingerprint(TestServers.subscriber, "checks.rec") == drBefore, "a dry run changes nothing")

        let applied = try await manager.reconcile(source: "pg-logical", apply: true, actor: "test")
        let outcome = try #require(applied.outcome)
        #expect(outcome.rowsUpserted == 4 && outcome.rowsDeleted == 1)
        #expect(outcome.stillDiffering == 0)
        let after = try await manager.check(source: "pg-logical", options: CheckOptions(fullDiff: true), actor: "test")
        #expect(after.status == .pass)
        #expect(after.ratio == 1)

        // The same plan again writes nothing: every key already matches.
        let again = try await manager.reconcile(source: "pg-logical", apply: true, actor: "test")
        #expect(again.outcome?.rowsUpserted == 0 && again.outcome?.rowsDeleted == 0)
        #expect(try await fingerprint(TestServers.publisher, "checks.rec") == primaryBefore, "the primary is never written")
        let journaled = try await manager.journal.recent(limit: 10, kind: "reconcile")
        #expect(journaled.filter { $0.outcome != "started" }.map(\.action) == ["apply", "apply", "dry-run"])
        #expect(journaled.filter { $0.outcome == "started" }.map(\.action) == ["apply", "apply"], "each apply journaled its intent first")
    }

    @Test func aPartialApplyConvergesWhenRunAgain() async throws {
        try await plantReconcileTable("partial", rows: 3000)
        try await CheckTables.run(TestServers.subscriber, "DELETE FROM checks.partial WHERE id % 3 = 0")
        let source = PostgresSource(config: CheckTables.source(tables: ["checks.partial"]))
        let check = try await source.check(CheckOptions(maxDiffs: 5000, rounds: 1, fullDiff: true), progress: { _ in })
        #expect(check.missing == 1000)
        let plan = try await source.planReconcile(from: check)
        #expect(plan.batches.count == 2, "1000 keys in batches of 500")
        // As if the first run died after its first batch.
        var firstOnly = plan
        firstOnly.batches = [plan.batches[0]]
        let partial = try await source.applyReconcile(firstOnly)
        #expect(partial.rowsUpserted == 500)
        let full = try await source.applyReconcile(plan)
        #expect(full.rowsUpserted == 500, "only what the first run did not do")
        #expect(full.stillDiffering == 0)
        let after = try await source.check(CheckOptions(rounds: 1, fullDiff: true), progress: { _ in })
        #expect(after.status == .pass)
        #expect(after.primaryRows == after.drRows)
    }

    @Test func reconcileNeedsACompleteDiffList() async throws {
        try await plantReconcileTable("capped", rows: 1000)
        try await CheckTables.run(TestServers.subscriber, "DELETE FROM checks.capped WHERE id <= 20")
        let source = PostgresSource(config: CheckTables.source(tables: ["checks.capped"]))
        let check = try await source.check(CheckOptions(maxDiffs: 5, rounds: 1, fullDiff: true), progress: { _ in })
        do {
            _ = try await source.planReconcile(from: check)
            Issue.record("a plan from a truncated diff list must be refused")
        } catch let SyncError.invalidState(message) {
            #expect(message.contains("lists 5 of at least 20 differences"))
            #expect(message.contains("--full-diff"))
        }
    }

    @Test func reconcileIntoAPhysicalStandbyFailsExplainingTheReclone() async throws {
        let source = PostgresSource(config: TestServers.physical)
        let check = CheckResult(source: "pg-physical", threshold: 0.99999, tables: [], diffs: [], diffsTruncated: false, rounds: 1,
                                stoppedEarly: false, startedAt: Date(), finishedAt: Date())
        do {
            _ = try await source.planReconcile(from: check)
            Issue.record("reconcile into a physical standby must fail")
        } catch let SyncError.unsupported(operation, reason, remedy) {
            #expect(operation == .reconcile)
            #expect(reason.contains("physical standby, which is read-only"))
            #expect(remedy.contains("pg_basebackup -R"))
        }
    }
}

extension PostgresReplicationTests {
    @Test func fullSyncOfTheLogicalPairEndsIdenticalAndReplicationStillFlows() async throws {
        // Damage the subscriber's copy of the replicated tables behind replication's back.
        try await CheckTables.run(TestServers.subscriber, """
            DELETE FROM public.accounts WHERE id % 7 = 0;
            UPDATE public.accounts SET balance = -1 WHERE id % 11 = 0;
            INSERT INTO public.accounts VALUES (-5, 'stray', 0, now()) ON CONFLICT DO NOTHING
            """)
        let config = TestServers.logical
        let source = PostgresSource(config: config)
        let damaged = try await source.check(CheckOptions(rounds: 1, fullDiff: true), progress: { _ in })
        #expect(damaged.status == .fail)

        try await source.forceFullSync()
        let repaired = try await source.check(CheckOptions(rounds: 2, fullDiff: true), progress: { _ in })
        #expect(repaired.status == .pass, "\(repaired.diffs.prefix(5))")
        #expect(repaired.ratio == 1)
        #expect(try await source.topology() == .logical(subscription: "syncd_sub", slot: "syncd_sub"))

        // New writes on the publisher still arrive.
        let publisher = try await TestServers.connect(TestServers.publisher)
        let marker = Int.random(in: 10_000_000...99_999_999)
        try await publisher.query("INSERT INTO accounts VALUES ($1::bigint, 'after-resync', 1, now())", [String(marker)])
        _ = try await source.waitForDrain(timeout: .seconds(30))
        let subscriber = try await TestServers.connect(TestServers.subscriber)
        #expect(try await subscriber.query("SELECT owner FROM accounts WHERE id = $1::bigint", [String(marker)]).value(0, "owner") == "after-resync")
        #expect(try await eventually { await source.sample().state == .inSync })
    }
}
