import Foundation
import Testing
import TestSupport
@testable import PostgresClient
@testable import PostgresSource
@testable import SyncCore

/// SIGSTOP of the standby's postmaster and children: libpq 15 has no client-side deadline, so
/// without the asynchronous statements the poll hung for as long as the server did.
@Suite struct PostgresHungServerTests {
    @Test("a frozen standby fails the gate within one poll interval plus poll_timeout, and the source recovers after the thaw")
    func frozenStandbyFailsTheGateAtOnce() async throws {
        let config = withPollTiming(TestServers.physical, interval: 0.5, timeout: 1.5)
        let observed = try await observeHungServer(
            config: config, adapter: PostgresSource(config: config),
            freeze: { try await TestServers.script("freeze", "standby") },
            thaw: { try await TestServers.script("thaw", "standby") })
        #expect(observed.brokenPromises.isEmpty, "\(observed.brokenPromises)")
    }

    @Test("a statement past its call deadline throws a timeout and abandons the connection; the next one reconnects")
    func statementDeadline() async throws {
        let connection = try await PGConnection.connect(PGConnectionParameters(endpoint: TestServers.primary))
        let started = ContinuousClock.now
        await #expect { try await CallDeadline.within(seconds: 0.3) { try await connection.query("SELECT pg_sleep(5)") } } throws: { error in
            (error as? PostgresError)?.kind == .timeout
        }
        #expect(started.duration(to: .now) < .seconds(2))
        #expect(await connection.isHealthy() == false, "an abandoned connection is never reused")
        let fresh = try await PGConnection.connect(PGConnectionParameters(endpoint: TestServers.primary))
        let rows = try await CallDeadline.within(seconds: 5) { try await fresh.query("SELECT $1::text AS v", ["ok"]) }
        #expect(rows.value(0, "v") == "ok")
        // The cancel sent for the abandoned statement ends it on the server.
        #expect(try await eventually(timeout: .seconds(5)) {
            let rows = try await fresh.query("SELECT count(*)::text AS n FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(5)' AND state = 'active'")
            return rows.value(0, "n") == "0"
        })
    }
}
