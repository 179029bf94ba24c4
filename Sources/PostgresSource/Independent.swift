import Foundation
import PostgresClient
import SyncCore

/// `mode: independent`: any two databases, the DR copy kept by something syncd does not drive (a
/// migration service, pglogical, Debezium, dump and restore, another cloud's managed copy).
/// Checks and reconcile work as on a logical pair; lag comes from an optional heartbeat table that
/// syncd writes on the primary each poll and reads on the DR side (copied there by that tool),
/// else it is unknown and the gate says so.
extension PostgresSource {
    /// The reason every control action that needs the replication itself is refused.
    static let independentReason = "the DR copy is kept by a tool syncd does not drive (a migration service, pglogical, Debezium, dump and restore)"

    func refuseIndependent(_ operation: SourceOperation) -> SyncError {
        let remedy = switch operation {
        case .fullSync: "re-copy the data with that tool, or run syncctl verify and syncctl reconcile --apply to repair the differences"
        default: "\(operation == .pause ? "pause" : "resume") that tool directly"
        }
        return SyncError.unsupported(operation: operation, reason: Self.independentReason, remedy: remedy)
    }

    /// Writes the current time (ms) on the primary; the table is created on first use. Only the
    /// instance holding the lease writes.
    func writeHeartbeat(_ table: String, now: Date) async throws -> Int64? {
        guard WriteFence.shared.allows() else { return nil }
        let name = try SQLText.quoteQualified(table)
        let stamp = Int64(now.timeIntervalSince1970 * 1000)
        try await run(.primary, "CREATE TABLE IF NOT EXISTS \(name) (id integer PRIMARY KEY, written_ms bigint NOT NULL)")
        try await run(.primary, "INSERT INTO \(name) (id, written_ms) VALUES (1, $1::bigint) ON CONFLICT (id) DO UPDATE SET written_ms = EXCLUDED.written_ms",
                      [String(stamp)])
        return stamp
    }

    /// The heartbeat a side holds; nil when there is none yet. A DR side without the table says so.
    func readHeartbeat(_ table: String, _ side: Side) async throws -> Int64? {
        do {
            return try await run(side, "SELECT written_ms::text AS written FROM \(try SQLText.quoteQualified(table)) WHERE id = 1")
                .value(0, "written").flatMap { Int64($0) }
        } catch let SyncError.failed(message) where message.contains("does not exist") {
            throw SyncError.invalidState("the heartbeat table \(table) does not exist on the \(side == .dr ? "DR side" : "primary"): the tool that copies the data must copy it too")
        }
    }

    func sampleIndependent(now: Date) async throws -> Sample {
        // Both sides answer, or the sample says which does not.
        try await run(.primary, "SELECT 1")
        try await run(.dr, "SELECT 1")
        var sample = Sample(time: now, state: .inSync, unit: .bytes, topology: "independent")
        guard let table = options.heartbeatTable else {
            sample.state = .syncing
            sample.details["lag_seconds_basis"] = "unknown: an independent copy has no replication position; set heartbeat_table to measure lag"
            return sample
        }
        let written = try await writeHeartbeat(table, now: now)
        var onPrimary = written
        if onPrimary == nil { onPrimary = try await readHeartbeat(table, .primary) }
        let onDR: Int64?
        do {
            onDR = try await readHeartbeat(table, .dr)
        } catch let error as SyncError {
            sample.state = .syncing
            sample.details["lag_seconds_basis"] = "unknown: \(error)"
            return sample
        }
        sample.details["heartbeat_table"] = table
        guard let onDR else {
            sample.state = .syncing
            sample.details["lag_seconds_basis"] = "unknown: no heartbeat has been copied to the DR side yet"
            return sample
        }
        if let onPrimary, onPrimary == onDR {
            sample.lagSeconds = 0
            sample.details["lag_seconds_basis"] = "heartbeat table: the DR side holds the primary's latest value"
        } else {
            sample.lagSeconds = max(0, Double(Int64(now.timeIntervalSince1970 * 1000) - onDR) / 1000)
            sample.details["lag_seconds_basis"] = "heartbeat table: age of the DR side's copy"
            if (sample.lagSeconds ?? 0) > 0 { sample.state = .syncing }
        }
        return sample
    }

    /// Drain: a fresh heartbeat on the primary, then wait until the DR side holds it.
    func drainIndependent(timeout: Duration) async throws -> DrainResult {
        guard let table = options.heartbeatTable else {
            throw SyncError.unsupported(operation: .drain, reason: "an independent copy has no replication position to wait for",
                                        remedy: "set heartbeat_table and have the copying tool copy it, then drain waits for the heartbeat")
        }
        guard let target = try await writeHeartbeat(table, now: Date()) else {
            throw SyncError.invalidState("this instance does not hold the leader lease, so it writes no heartbeat to drain to")
        }
        let started = ContinuousClock.now
        var seen: Int64 = 0
        return try await Poll.first(timeout: timeout, timedOut: {
            "drain timed out after \(timeout): the DR side's heartbeat is at \(seen) ms, the primary's at \(target) ms (\(Double(target - seen) / 1000) s behind)"
        }) {
            seen = try await readHeartbeat(table, .dr) ?? 0
            guard seen >= target else { return nil }
            return DrainResult(target: "heartbeat \(target)", reached: "heartbeat \(seen)", waitedSeconds: started.duration(to: .now).seconds)
        }
    }
}
