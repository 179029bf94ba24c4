import Foundation
import RedisClient
import SyncCore

/// Writes into a writable DR instance: reconcile (the keys a check found) and the independent
/// topology's full sync (everything). Values move as DUMP payloads, restored with the primary's
/// remaining TTL and REPLACE, so a repeat writes the same result (idempotent). Only the DR side is
/// ever written.
struct RedisCopier {
    let source: String
    let config: SourceConfig

    static let batchSize = 200
    var options: RedisOptions { config.redis ?? RedisOptions(mode: .independent) }

    // MARK: reconcile

    func plan(from check: CheckResult) -> ReconcilePlan {
        var notes: [String] = []
        if check.diffsTruncated {
            notes.append("the check listed \(check.diffs.count) of its differences; this plan covers those only: re-check and reconcile again for the rest (or check with --full-diff)")
        }
        var batches: [ReconcileBatch] = []
        let byDatabase = Dictionary(grouping: check.diffs, by: \.table)
        for table in byDatabase.keys.sorted() {
            let diffs = byDatabase[table]!
            let upserts = diffs.filter { $0.kind != .extra }.map(\.key)
            let deletes = diffs.filter { $0.kind == .extra }.map(\.key)
            let upsertChunks = upserts.chunks(of: Self.batchSize)
            let deleteChunks = deletes.chunks(of: Self.batchSize)
            for index in 0..<max(upsertChunks.count, deleteChunks.count) {
                let up = index < upsertChunks.count ? upsertChunks[index] : []
                let del = index < deleteChunks.count ? deleteChunks[index] : []
                var statements = ["SELECT \(table.dropFirst(2)) (on the DR side)"]
                for key in up.compactMap(keyBytes) {
                    statements.append("RESTORE \(printable(key)) <PTTL on the primary, 0 if none> <DUMP \(printable(key)) from the primary> REPLACE  (DEL if gone from the primary)")
                }
                for key in del.compactMap(keyBytes) {
                    statements.append("DEL \(printable(key))  (only if still absent from the primary; copied instead if it reappeared)")
                }
                batches.append(ReconcileBatch(table: table, number: batches.count + 1, upsertKeys: up, deleteKeys: del, statements: statements))
            }
        }
        return ReconcilePlan(source: source, basedOnCheck: check.finishedAt, batches: batches, notes: notes, words: .redis)
    }

    func apply(_ plan: ReconcilePlan) async throws -> ReconcileOutcome {
        let started = Date()
        var upserted = 0
        var deleted = 0
        var still = 0
        var connections: [Int: (RedisSide, RedisSide)] = [:]
        for batch in plan.batches {
            guard batch.table.hasPrefix("db"), let database = Int(batch.table.dropFirst(2)), options.databases.contains(database) else {
                throw SyncError.invalidState("the plan names database '\(batch.table)', which this source does not check (databases: \(options.databases))")
            }
            if connections[database] == nil {
                connections[database] = (try await RedisSide.open(config.primary, side: .primary, database: database),
                                         try await RedisSide.open(config.dr, side: .dr, database: database))
            }
            let (primary, dr) = connections[database]!
            let upsertKeys = batch.upsertKeys.compactMap(keyBytes)
            let deleteKeys = batch.deleteKeys.compactMap(keyBytes)
            // A key planned for deletion that reappeared on the primary is copied instead.
            let reappeared = try await existing(deleteKeys, on: primary)
            let copied = try await copy(upsertKeys + reappeared, from: primary, to: dr)
            upserted += copied.restored
            deleted += copied.deleted
            let toDelete = deleteKeys.filter { !reappeared.contains($0) }
            if !toDelete.isEmpty { deleted += try await dr.delete(toDelete) }
            // Re-verify what this batch touched.
            for key in upsertKeys + deleteKeys {
                async let p = KeyReader.readWhole(primary.connection(for: key), key)
                async let d = KeyReader.readWhole(dr.connection(for: key), key)
                if compareReadings(try await p, try await d, ttlTolerance: options.ttlToleranceSeconds) != nil { still += 1 }
            }
        }
        return ReconcileOutcome(source: source, batchesApplied: plan.batches.count, rowsUpserted: upserted, rowsDeleted: deleted,
                                stillDiffering: still, durationSeconds: Date().timeIntervalSince(started))
    }

    private func existing(_ keys: [[UInt8]], on side: RedisSide) async throws -> [[UInt8]] {
        guard !keys.isEmpty else { return [] }
        let flags = try await side.eachKey("EXISTS", keys) { try $0.expectInteger("EXISTS on the primary") }
        return zip(keys, flags).filter { $0.1 > 0 }.map(\.0)
    }

    struct CopyCount {
        var restored = 0
        var deleted = 0
    }

    /// DUMP + PTTL on the primary, then RESTORE … REPLACE on the DR side (DEL for keys that vanished).
    func copy(_ keys: [[UInt8]], from primary: RedisSide, to dr: RedisSide) async throws -> CopyCount {
        var count = CopyCount()
        // Each key read from the master serving it on the primary and written to the one serving it on the DR side.
        for (mine, theirs, group) in primary.pairs(KeyList(keys), with: dr) {
            let part = try await copy(group.arrays, from: primary.nodes[mine], to: dr.nodes[theirs])
            count.restored += part.restored
            count.deleted += part.deleted
        }
        return count
    }

    private func copy(_ keys: [[UInt8]], from primary: RedisConnection, to dr: RedisConnection) async throws -> CopyCount {
        var count = CopyCount()
        for chunk in keys.chunks(of: Self.batchSize) {
            let dumps = try await primary.pipeline(chunk.flatMap { [RedisCommand([Array("PTTL".utf8), $0]), RedisCommand([Array("DUMP".utf8), $0])] }) { replies in
                try chunk.map { _ -> (Int64, [UInt8]?) in
                    let ttlReply = try replies.next()
                    let ttl = ttlReply.kind == .integer ? ttlReply.integer : -2
                    let dump = try replies.next()
                    if let message = dump.errorMessage { throw RedisError(kind: .server, message: "DUMP on the primary: \(message)") }
                    return (ttl, dump.kind == .string ? Array(dump.bytes) : nil)
                }
            }
            var commands: [RedisCommand] = []
            for (key, (ttl, payload)) in zip(chunk, dumps) {
                if let payload, ttl != -2 {
                    commands.append(RedisCommand([Array("RESTORE".utf8), key, Array(String(max(0, ttl)).utf8), payload, Array("REPLACE".utf8)]))
                    count.restored += 1
                } else {
                    commands.append(RedisCommand([Array("DEL".utf8), key]))
                    count.deleted += 1
                }
            }
            let sent = commands
            let errors = try await dr.pipeline(sent) { replies in
                try sent.compactMap { _ in try replies.next().errorMessage }
            }
            if let first = errors.first {
                throw SyncError.failed("writing to the DR side failed for \(errors.count) key(s): \(first)"
                                       + (first.hasPrefix("READONLY") ? "; the DR instance is a read-only replica: use mode: replica and force a full sync" : ""))
            }
        }
        return count
    }

    // MARK: full sync of an independent DR instance

    /// Copies every key of every configured database, then deletes keys only on the DR side.
    func copyEverything() async throws {
        for database in options.databases {
            let primary = try await RedisSide.open(config.primary, side: .primary, database: database)
            let dr = try await RedisSide.open(config.dr, side: .dr, database: database)
            let stability = SlotStability.capture([primary, dr])
            for unit in primary.nodes {
                try await forEachBatch(scanning: unit) { keys in _ = try await copy(keys, from: primary, to: dr) }
            }
            for unit in dr.nodes {
                try await forEachBatch(scanning: unit) { keys in
                    let present = Set(try await existing(keys, on: primary).map(ByteKey.init))
                    let extras = keys.filter { !present.contains(ByteKey($0)) }
                    if !extras.isEmpty { _ = try await dr.delete(extras) }
                }
            }
            // Keys in slots that moved meanwhile may not have been copied: say so rather than report success.
            try await stability.verify(config)
        }
    }

    private func forEachBatch(scanning connection: RedisConnection, _ body: ([[UInt8]]) async throws -> Void) async throws {
        var cursor = Array("0".utf8)
        repeat {
            let command = RedisCommand(RedisChecker.scanWords(cursor))
            let (next, keys) = try await connection.pipeline([command]) { replies in try RedisChecker.scanReply(try replies.next(), excluding: nil) }
            cursor = next
            if !keys.isEmpty { try await body(keys.arrays) }
        } while cursor != Array("0".utf8)
    }
}
