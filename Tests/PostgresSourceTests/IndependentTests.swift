import Foundation
import Testing
import TestSupport
@testable import PostgresClient
@testable import PostgresSource
@testable import SyncCore

/// `mode: independent` on two databases that no replication links: `indep_primary` on the
/// publisher's cluster and `indep_dr` on the subscriber's. The test plays the copying tool.
@Suite(.serialized) struct IndependentTests {
    static func database(_ endpoint: EndpointConfig, _ name: String) async throws -> EndpointConfig {
        let admin = try await TestServers.connect(endpoint)
        if try await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]).count == 0 {
            try await admin.query("CREATE DATABASE \(name)")
        }
        var copy = endpoint
        copy.database = name
        return copy
    }

    static func pair(heartbeat: String? = "public.syncd_heartbeat") async throws -> (SourceConfig, EndpointConfig, EndpointConfig) {
        let primary = try await database(TestServers.publisher, "indep_primary")
        let dr = try await database(TestServers.subscriber, "indep_dr")
        for endpoint in [primary, dr] {
            let connection = try await TestServers.connect(endpoint)
            try await connection.query("SET client_min_messages = warning")
            try await connection.query("DROP TABLE IF EXISTS public.orders, public.syncd_heartbeat")
            try await connection.query("DROP SEQUENCE IF EXISTS public.order_no")
            try await connection.query("CREATE TABLE public.orders (id bigint PRIMARY KEY, item text NOT NULL)")
            try await connection.query("INSERT INTO public.orders SELECT g, 'item ' || g FROM generate_series(1, 500) g")
            try await connection.query("CREATE SEQUENCE public.order_no")
        }
        var config = TestServers.source("pg-independent", primary: primary, dr: dr, mode: .independent)
        config.postgres?.heartbeatTable = heartbeat
        return (config, primary, dr)
    }

    /// What the copying tool does with the heartbeat: the primary's row, onto the DR side.
    static func copyHeartbeat(_ primary: EndpointConfig, _ dr: EndpointConfig) async throws {
        let value = try await TestServers.connect(primary).query("SELECT written_ms::text AS v FROM public.syncd_heartbeat WHERE id = 1").value(0, "v") ?? "0"
        let target = try await TestServers.connect(dr)
        try await target.query("CREATE TABLE IF NOT EXISTS public.syncd_heartbeat (id integer PRIMARY KEY, written_ms bigint NOT NULL)")
        try await target.query("INSERT INTO public.syncd_heartbeat VALUES (1, $1::bigint) ON CONFLICT (id) DO UPDATE SET written_ms = EXCLUDED.written_ms", [value])
    }

    @Test("lag comes from the heartbeat table the tool copies (unknown before, and without one); checks, sequences and reconcile work; pause, resume and full sync are refused with the reason; drain waits for the heartbeat")
    func independentPair() async throws {
        let (config, primary, dr) = try await Self.pair()
        let source = PostgresSource(config: config)
        let first = await source.sample()
        #expect(first.topology == "independent" && first.lagSeconds == nil, "\(first)")
        #expect(first.details["lag_seconds_basis"]?.contains("does not exist on the DR side") == true, "\(first.details)")
        try await Self.copyHeartbeat(primary, dr)
        let copied = await source.sample()
        #expect(copied.lagSeconds != nil && copied.lagSeconds! < 5, "\(copied)")
        #expect(Set(await source.capabilities()) == [.drain, .check, .reconcile])

        for operation in [SourceOperation.pause, .resume] {
            do {
                try await operation == .pause ? source.pause() : source.resume()
                Issue.record("\(operation) of an independent pair was accepted")
            } catch let SyncError.unsupported(_, reason, remedy) {
                #expect(reason.contains("a tool syncd does not drive") && remedy.contains("that tool directly"))
            }
        }
        await #expect(throws: SyncError.self) { _ = try await source.forceFullSync() }

        // Drain: a fresh heartbeat, done once the tool copies it.
        let drain = Task { try await source.waitForDrain(timeout: .seconds(20)) }
        try await Task.sleep(for: .milliseconds(500))
        try await Self.copyHeartbeat(primary, dr)
        let drained = try await drain.value
        #expect(drained.reached.hasPrefix("heartbeat"))

        // The DR copy differs in a row and a sequence: both found; reconcile repairs both.
        try await TestServers.connect(dr).query("UPDATE public.orders SET item = 'changed' WHERE id = 7")
        try await TestServers.connect(primary).query("SELECT nextval('public.order_no') FROM generate_series(1, 9)")
        let check = try await source.check(CheckOptions(fullDiff: true), progress: { _ in })
        #expect(check.changed == 1 && check.status == .fail)
        #expect(check.diffs.contains { $0.kind == .sequence && $0.table == "public.order_no" && $0.detail == "DR at 0, primary at 9" }, "\(check.diffs)")
        let plan = try await source.planReconcile(from: check)
        let outcome = try await source.applyReconcile(plan)
        #expect(outcome.rowsUpserted == 1 && outcome.sequencesSet == 1 && outcome.status == .pass, "\(outcome)")
        let after = try await source.check(CheckOptions(fullDiff: true), progress: { _ in })
        #expect(after.status == .pass && after.diffs.isEmpty, "\(after.diffs)")
    }

    @Test("without a heartbeat table the lag is unknown and says why; a DR side that is a standby is refused")
    func noHeartbeatAndAStandbyDR() async throws {
        let (config, _, _) = try await Self.pair(heartbeat: nil)
        let sample = await PostgresSource(config: config).sample()
        #expect(sample.lagSeconds == nil && sample.details["lag_seconds_basis"]?.contains("set heartbeat_table") == true, "\(sample)")
        let standby = TestServers.source("pg-wrong", primary: TestServers.primary, dr: TestServers.standby, mode: .independent)
        let refused = await PostgresSource(config: standby).sample()
        #expect(refused.state == .broken && refused.errors.first?.contains("use mode: physical") == true, "\(refused.errors)")
    }
}
