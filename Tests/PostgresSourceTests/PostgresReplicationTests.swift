import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Prometheus
import SQLiteJournal
import Testing
import TestSupport
@testable import PostgresClient
@testable import PostgresSource
@testable import SyncAPI
@testable import SyncCore
@testable import SyncManager

/// Against the real servers of integration/pg.sh. Serialized: the tests pause, stall and stop
/// the shared standby, and each leaves it streaming again.
@Suite(.serialized) struct PostgresReplicationTests {
    // MARK: physical standby

    @Test func pauseMakesLagGrowAndResumeReturnsToInSync() async throws {
        let source = PostgresSource(config: TestServers.physical)
        let primary = try await TestServers.connect(TestServers.primary)
        #expect(try await source.topology() == .physical)
        #expect(try await eventually { await source.sample().state == .inSync })

        try await source.pause()
        do {
            let before = await source.sample()
            #expect(before.state == .paused)
            try await writeEvents(primary)
            let after = await source.sample()
            #expect(after.state == .paused)
            #expect(after.errors.contains { $0.contains("paused") })
            #expect((after.lagVolume ?? 0) > (before.lagVolume ?? 0) + 100_000, "lag bytes grow while replay is paused")
            #expect(after.details["replay_pause_state"] == "paused")
        }
        try await source.resume()
        #expect(try await eventually { await source.sample().state == .inSync })
        let healed = await source.sample()
        #expect(healed.lagVolume == 0)
        #expect(healed.lagSeconds == 0)
    }

    @Test func drainAfterResumeWaitsForTheCapturedPosition() async throws {
        let source = PostgresSource(config: TestServers.physical)
        let primary = try await TestServers.connect(TestServers.primary)
        try await source.pause()
        try await writeEvents(primary, rows: 5000)
        try await source.resume()
        let result = try await source.waitForDrain(timeout: .seconds(30))
        // The standby has replayed at least up to what the primary had flushed at the call.
        let replayed = try await TestServers.connect(TestServers.standby).query(
            "SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), $1::pg_lsn) >= 0 AS passed", [result.target])
        #expect(replayed.value(0, "passed") == "t")
        #expect(result.waitedSeconds < 30)
    }

    @Test func drainWhilePausedFailsFast() async throws {
        let source = PostgresSource(config: TestServers.physical)
        try await source.pause()
        let clock = ContinuousClock()
        let started = clock.now
        await #expect(throws: SyncError.invalidState("cannot drain: WAL replay on the DR standby is paused; resume replication first")) {
            _ = try await source.waitForDrain(timeout: .seconds(30))
        }
        #expect(clock.now - started < .seconds(2))
        try await source.resume()
    }

    @Test func drainTimesOutOnAStalledStandbyWithTheRemainingDistance() async throws {
        let source = PostgresSource(config: TestServers.physical)
        let primary = try await TestServers.connect(TestServers.primary)
        let standby = try await TestServers.connect(TestServers.standby)
        try await primary.query("CREATE TABLE IF NOT EXISTS stall_probe (id int)")
        _ = try await source.waitForDrain(timeout: .seconds(30))
        // A standby query holding a lock on stall_probe blocks replay of the primary's ALTER TABLE
        // (max_standby_streaming_delay = -1): replay stalls without being paused.
        try await standby.query("BEGIN ISOLATION LEVEL REPEATABLE READ")
        try await standby.query("SELECT count(*) FROM stall_probe")
        try await primary.query("ALTER TABLE stall_probe ADD COLUMN c\(Int.random(in: 1...1_000_000_000)) int")
        try await writeEvents(primary, rows: 500)
        do {
            _ = try await source.waitForDrain(timeout: .seconds(2))
            Issue.record("drain should have timed out")
        } catch let SyncError.timeout(message) {
            #expect(message.contains("drain timed out after 2"))
            let remaining = message.components(separatedBy: ", ").last.flatMap { Int64($0.components(separatedBy: " ").first ?? "") }
            #expect((remaining ?? 0) > 0, "says how many bytes remain: \(message)")
        }
        let stalled = await source.sample()
        #expect(stalled.state == .syncing || stalled.state == .lagging)
        #expect((stalled.lagVolume ?? 0) > 0)
        try await standby.query("ROLLBACK")
        _ = try await source.waitForDrain(timeout: .seconds(30))
        try await primary.query("DROP TABLE stall_probe")
    }

    @Test func fullSyncOfAPhysicalStandbyExplainsTheReclone() async throws {
        let source = PostgresSource(config: TestServers.physical)
        do {
            try await source.forceFullSync()
            Issue.record("full sync of a physical standby must fail")
        } catch let SyncError.unsupported(operation, reason, remedy) {
            #expect(operation == .fullSync)
            #expect(reason.contains("physical standby"))
            #expect(remedy.contains("pg_basebackup -R"))
        }
    }

    @Test func stoppedStandbyIsUnreachableGate503AndRecoversWithoutRestart() async throws {
        let registry = PrometheusCollectorRegistry()
        let journal = try SQLiteJournal(path: FileManager.default.temporaryDirectory
            .appendingPathComponent("syncd-pg-\(UUID().uuidString)/journal.sqlite").path)
        let config = TestServers.physical
        let manager = SyncManager(sources: [(config, PostgresSource(config: config))], journal: journal, historySize: 100,
                                  metricsFactory: PrometheusMetricsFactory(registry: registry), logger: Logger(label: "test"))
        let monitor = try #require(manager.monitor(named: config.name))
        // A passing check, so the gate's answer depends on replication alone.
        await monitor.recordCheck(CheckSummary(finishedAt: Date(), ratio: 1, countRatio: 1))
        let app = Application(router: SyncAPI.router(manager: manager, readToken: Secret("r"), adminToken: Secret("a"), registry: registry))
        let auth: HTTPFields = [.authorization: "Bearer r"]

        #expect(try await eventually { await monitor.poll().state == .inSync })
        try await app.test(.router) { client in
            try await client.execute(uri: "/v1/gate?sources=pg-physical", method: .get, headers: auth) { response in
                #expect(response.status == .ok)
            }
        }

        try await TestServers.script("stop", "standby")
        do {
            let down = await monitor.poll()
            #expect(down.state == .unreachable)
            #expect(down.errors.first?.contains("DR \(IntegrationServers.Postgres.host):\(TestServers.standby.port) is unreachable") == true)
            try await app.test(.router) { client in
                try await client.execute(uri: "/v1/gate?sources=pg-physical", method: .get, headers: auth) { response in
                    #expect(response.status == .serviceUnavailable)
                    let body = try JSONCoding.decoder.decode(JSONValue.self, from: Data(buffer: response.body))
                    guard case let .array(sources)? = body["sources"], case let .array(reasons)? = sources.first?["reasons"],
                          case let .string(reason)? = reasons.first else {
                        Issue.record("no reasons in \(body)")
                        return
                    }
                    #expect(reason.hasPrefix("source is unreachable: DR \(IntegrationServers.Postgres.host):\(TestServers.standby.port) is unreachable"))
                }
            }
        }
        try await TestServers.script("start", "standby")
        // Same manager, same adapter: it reconnects on its own.
        #expect(try await eventually(timeout: .seconds(60)) { await monitor.poll().state == .inSync })
        try await app.test(.router) { client in
            try await client.execute(uri: "/v1/gate?sources=pg-physical", method: .get, headers: auth) { response in
                #expect(response.status == .ok)
            }
        }
    }

    @Test func wrongPasswordAndClosedPortAreUnreachableWithTheServersMessage() async throws {
        let badPassword = PostgresSource(config: TestServers.source(
            "bad-auth", primary: TestServers.primary, dr: TestServers.endpoint(TestServers.standby.port, password: "wrong")))
        let sample = await badPassword.sample()
        #expect(sample.state == .unreachable)
        #expect(sample.errors.first?.contains("password authentication failed") == true, "\(sample.errors)")

        let closedPort = PostgresSource(config: TestServers.source(
            "closed", primary: TestServers.endpoint(1), dr: TestServers.standby))
        let closed = await closedPort.sample()
        #expect(closed.state == .unreachable)
        #expect(closed.errors.first?.contains("primary \(IntegrationServers.Postgres.host):1 is unreachable") == true, "\(closed.errors)")
        #expect(closed.lagSeconds == nil, "unknown lag is never reported as zero")
    }

    @Test func aPrimaryConfiguredAsDRIsBroken() async throws {
        // Pointing the DR side at a primary: neither a standby nor (in physical mode) acceptable.
        let source = PostgresSource(config: TestServers.source("misconfigured", primary: TestServers.primary, dr: TestServers.primary, mode: .physical))
        let sample = await source.sample()
        #expect(sample.state == .broken)
        #expect(sample.errors.first?.contains("not in recovery") == true)
    }

    // MARK: logical subscription

    @Test func logicalPauseAndResumeAreObservedAndLagReflectsPublisherWrites() async throws {
        let source = PostgresSource(config: TestServers.logical)
        let publisher = try await TestServers.connect(TestServers.publisher)
        #expect(try await source.topology() == .logical(subscription: "syncd_sub", slot: "syncd_sub"))
        #expect(try await eventually { await source.sample().state == .inSync })

        try await source.pause()
        let paused = await source.sample()
        #expect(paused.state == .paused)
        #expect(paused.details["subscription_enabled"] == "false")
        try await writeEvents(publisher, rows: 3000)
        // Inserts move the publisher's events_id_seq, which replication does not copy; the
        // sequence tests plant their own divergence, the other suites expect the pair in step.
        try await TestServers.script("sync-sequences")
        let behind = await source.sample()
        #expect(behind.state == .paused)
        #expect((behind.lagVolume ?? 0) > 100_000, "lag bytes reflect the publisher's writes: \(String(describing: behind.lagVolume))")

        try await source.resume()
        let resumed = await source.sample()
        #expect(resumed.state != .paused)
        #expect(resumed.details["apply_worker"] == "running")
        _ = try await source.waitForDrain(timeout: .seconds(30))
        #expect(try await eventually { await source.sample().state == .inSync })
        // The rows arrived: both sides count the same.
        let count = "SELECT count(*) AS n FROM events"
        let subscriber = try await TestServers.connect(TestServers.subscriber)
        #expect(try await publisher.query(count).value(0, "n") == subscriber.query(count).value(0, "n"))
    }

    @Test func logicalDrainWhilePausedFailsFast() async throws {
        let source = PostgresSource(config: TestServers.logical)
        try await source.pause()
        await #expect(throws: SyncError.invalidState("cannot drain: subscription 'syncd_sub' is disabled; resume replication first")) {
            _ = try await source.waitForDrain(timeout: .seconds(30))
        }
        try await source.resume()
    }

    @Test func autoModeDetectsEachTopology() async throws {
        let physical = PostgresSource(config: TestServers.source("auto-physical", primary: TestServers.primary, dr: TestServers.standby))
        let logical = PostgresSource(config: TestServers.source("auto-logical", primary: TestServers.publisher, dr: TestServers.subscriber))
        #expect(try await physical.topology() == .physical)
        #expect(try await logical.topology() == .logical(subscription: "syncd_sub", slot: "syncd_sub"))
        let wrongName = PostgresSource(config: TestServers.source("wrong-sub", primary: TestServers.publisher, dr: TestServers.subscriber,
                                                                    mode: .logical, subscription: "nope"))
        let sample = await wrongName.sample()
        #expect(sample.state == .broken)
        #expect(sample.errors.first?.contains("subscription 'nope' does not exist") == true)
    }
}
