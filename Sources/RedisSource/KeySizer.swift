import Foundation
import RedisClient
import SyncCore

extension RedisChecker {
    /// SCAN and size estimates for the primary → DR pass, on connections of their own so they run
    /// ahead of the reads: one round trip carries the next SCAN and a size estimate (MEMORY USAGE
    /// … SAMPLES 1) of the keys the previous SCAN returned. With a native replica the replica
    /// sizes the keys: its copy differs from the primary's only by what is in flight, and the
    /// primary is the server a check must load least. Keys the replica lacks are sized on the
    /// primary, with the next SCAN.
    final class KeySizer: @unchecked Sendable {
        // @unchecked: used by one task at a time (each `next()` is awaited before the next call).
        let connection: RedisConnection
        let replica: RedisConnection?
        let excluded: [UInt8]?
        private var cursor = Array("0".utf8)
        private var scanning = true
        private var unsized = KeyList()
        /// Keys the replica does not hold, to size on the primary.
        private var unsizedOnPrimary = KeyList()

        init(connection: RedisConnection, replica: RedisConnection?, excluded: [UInt8]?) {
            self.connection = connection
            self.replica = replica
            self.excluded = excluded
        }

        /// Sizes in bytes, in key order: nil when the key is gone, Int64.max when unknown (paged, to be safe).
        static func sizes(_ replies: inout RedisReplies, count: Int) throws -> [Int64?] {
            var sizes: [Int64?] = []
            sizes.reserveCapacity(count)
            for _ in 0..<count {
                let reply = try replies.next()
                switch reply.kind {
                case .integer: sizes.append(reply.integer)
                case .null: sizes.append(nil)
                default: sizes.append(Int64.max)
                }
            }
            return sizes
        }

        static func size(_ keys: KeyList, on connection: RedisConnection?) async throws -> [Int64?] {
            guard let connection, !keys.isEmpty else { return [] }
            return try await connection.pipeline(sizing(keys, after: nil)) { replies in try sizes(&replies, count: keys.count) }
        }

        static func sizing(_ keys: KeyList, after scan: [[UInt8]]?) -> RESPBatch {
            var commands = RESPBatch(reservingCapacity: keys.bytes.count + keys.count * 48 + 64)
            if let scan { commands.append(scan) }
            commands.append(KeyReader.memoryUsage, eachOf: keys)
            return commands
        }

        /// The next batch of keys: small ones (read by DUMP in a pipeline) and big ones (paged);
        /// keys deleted since SCAN are left out. Nil when the scan is done.
        func next() async throws -> KeyBatch? {
            while scanning || !unsized.isEmpty || !unsizedOnPrimary.isEmpty {
                // Sized on the primary: the replica's misses, or (without a replica) every key.
                let onPrimary = replica == nil ? unsized : unsizedOnPrimary
                let onReplica = replica == nil ? KeyList() : unsized
                let (withScan, excluded) = (scanning, self.excluded)
                let primaryBatch = Self.sizing(onPrimary, after: withScan ? RedisChecker.scanWords(cursor) : nil)
                async let replicaSizes = Self.size(onReplica, on: replica)
                let (next, primarySizes) = try await connection.pipeline(primaryBatch) { replies in
                    var next: ([UInt8], KeyList)?
                    if withScan { next = try RedisChecker.scanReply(try replies.next(), excluding: excluded) }
                    return (next, try Self.sizes(&replies, count: onPrimary.count))
                }
                let drSizes = try await replicaSizes
                if let (nextCursor, keys) = next {
                    cursor = nextCursor
                    unsized = keys
                    scanning = nextCursor != Array("0".utf8)
                } else {
                    unsized = KeyList()
                }
                var small = KeyList(reservingCapacity: onPrimary.count + onReplica.count, bytes: onPrimary.bytes.count + onReplica.bytes.count)
                var big: [[UInt8]] = []
                unsizedOnPrimary = KeyList()
                for (index, size) in drSizes.enumerated() {
                    guard let size else { unsizedOnPrimary.append(index, of: onReplica); continue }
                    if size < KeyReader.dumpLimit { small.append(index, of: onReplica) } else { big.append(onReplica[index]) }
                }
                for (index, size) in primarySizes.enumerated() {
                    guard let size else { continue } // deleted since SCAN
                    if size < KeyReader.dumpLimit { small.append(index, of: onPrimary) } else { big.append(onPrimary[index]) }
                }
                if !small.isEmpty || !big.isEmpty { return (small, big) }
            }
            return nil
        }
    }

    /// A native replica sizes the keys only while it is attached and close behind the primary
    /// (its copy of any key then differs by at most what is in flight); a paused, syncing or
    /// lagging one, or an independent instance, leaves the sizing to the primary.
    func replicaForSizing(primary: RedisConnection, database: Int) async throws -> RedisConnection? {
        guard config.redis?.mode != .independent else { return nil }
        let replica = try await RedisSource.open(config.dr, side: .dr, database: database, commandTimeout: .seconds(60))
        let primaryInfo = try ReplicationInfo(fields: parseInfo(try await primary.command(RedisCommand("INFO", "replication")).text ?? ""))
        let replicaInfo = try ReplicationInfo(fields: parseInfo(try await replica.command(RedisCommand("INFO", "replication")).text ?? ""))
        return Self.replicaMaySize(primary: primaryInfo, replica: replicaInfo) ? replica : nil
    }

    static func replicaMaySize(primary: ReplicationInfo, replica: ReplicationInfo) -> Bool {
        guard replica.isReplica, replica.linkUp, !replica.syncInProgress, let applied = replica.appliedOffset else { return false }
        return primary.masterReplOffset - applied <= replicaSizingLag
    }

    /// How far (in replication stream bytes) a replica may be behind and still size keys.
    static let replicaSizingLag: Int64 = 1 << 20

    typealias KeyBatch = (small: KeyList, big: [[UInt8]])

    /// Hands the sizer's batches to the reader lanes. The sizer is called strictly one call after
    /// another, in call order (an actor alone would not do: it lets a second call in while the
    /// first awaits the server).
    actor BatchFeed {
        private let sizer: KeySizer
        private var done = false
        private var tail: Task<KeyBatch?, Error>?

        init(_ sizer: KeySizer) { self.sizer = sizer }

        func next() async throws -> KeyBatch? {
            let (previous, sizer) = (tail, self.sizer)
            let call = Task<KeyBatch?, Error> {
                _ = try? await previous?.value
                guard await !self.done else { return nil }
                let batch = try await sizer.next()
                if batch == nil { await self.stop() }
                return batch
            }
            tail = call
            return try await call.value
        }

        /// Ends the feed early (the check stops: a pass is impossible).
        func stop() { done = true }
    }
}
