import Foundation
import RedisClient
import SyncCore

/// The DR → primary pass (keys only on the DR side) and the re-check rounds.
extension RedisChecker {
    // MARK: DR → primary

    struct ExtraScan: Sendable {
        var drKeys: Int64 = 0
        /// Keys only on the DR side, to be re-checked in the rounds (at most `maxExtras`).
        var keys: [[UInt8]] = []
        /// Extra keys beyond `maxExtras`: counted, not listed or re-checked.
        var beyondCap: Int64 = 0
    }

    static let maxExtras = 100_000

    /// SCANs the DR side and asks the primary `EXISTS k1 … kn` per batch; only a batch whose count
    /// falls short is looked at key by key. Stops when cancelled (the check stopped early).
    func drPass(primary: RedisSide, dr: RedisSide) async throws -> ExtraScan {
        let excluded = self.excluded
        var result = ExtraScan()
        for unit in dr.nodes {
            var cursor = Array("0".utf8)
            var pending = KeyList()
            repeat {
                if Task.isCancelled { return result }
                // Scan the next DR batch while the primary answers EXISTS for the previous one.
                let scanCommand = RedisCommand(Self.scanWords(cursor))
                async let scanned = unit.pipeline([scanCommand]) { replies in try Self.scanReply(try replies.next(), excluding: excluded) }
                try await findExtras(pending, primary: primary, into: &result)
                let (next, keys) = try await scanned
                cursor = next
                pending = keys
                result.drKeys += Int64(keys.count)
            } while cursor != Array("0".utf8)
            try await findExtras(pending, primary: primary, into: &result)
        }
        return result
    }

    private func findExtras(_ keys: KeyList, primary: RedisSide, into result: inout ExtraScan) async throws {
        // EXISTS counts a repeated key each time, so SCAN's rare duplicates need no removing here.
        guard !keys.isEmpty else { return }
        if !primary.isCluster {
            var command = RESPBatch(reservingCapacity: keys.bytes.count + keys.count * 8 + 32)
            command.append("EXISTS", keys: keys)
            let present = try await primary.nodes[0].pipeline(command) { replies in
                try replies.next().expectInteger("EXISTS on the primary")
            }
            guard present < keys.count else { return }
        }
        // The rare short batch, or a cluster (no EXISTS across slots): each key once, so an extra
        // key SCAN returned twice counts once.
        let unique = Array(Set(keys.arrays))
        let each = try await primary.eachKey("EXISTS", unique) { try $0.expectInteger("EXISTS on the primary") }
        for (key, exists) in zip(unique, each) where exists == 0 {
            if result.keys.count < Self.maxExtras {
                result.keys.append(key)
            } else {
                result.beyondCap += 1
            }
        }
    }

    // MARK: rounds

    /// Settles a full chunk of suspects; true when the check may stop (a pass is impossible).
    func settleIfNeeded(_ state: DatabaseState, primary: RedisSide, dr: RedisSide, rounds: Int, limit: Int64?) async throws -> Bool {
        let chunkFull = state.suspects.count >= Self.settleChunk
        // Enough suspects that, if they persist, no pass is possible: settle them now to stop early.
        let passAtRisk = limit.map { state.suspects.count >= 100 && Int64(state.suspects.count) + state.total > $0 } ?? false
        guard chunkFull || passAtRisk else { return false }
        try await settle(state, primary: primary, dr: dr, rounds: rounds)
        if let limit, state.total > limit { return true }
        return false
    }

    /// Re-reads every suspect whole on both sides in rounds 2…n; what still differs is confirmed.
    func settle(_ state: DatabaseState, primary: RedisSide, dr: RedisSide, rounds: Int) async throws {
        guard !state.suspects.isEmpty else { return }
        var open = state.suspects
        state.suspects = [:]
        if rounds > 1 {
            for _ in 2...rounds where !open.isEmpty {
                try await settle()
                var still: [[UInt8]: KeyVerdict] = [:]
                for key in open.keys {
                    let (p, d) = try await readBoth(key, primary: primary, dr: dr)
                    if let verdict = compareReadings(p, d, ttlTolerance: options.ttlToleranceSeconds) { still[key] = verdict }
                }
                state.settledAway += Int64(open.count - still.count)
                open = still
            }
        }
        for (key, verdict) in open {
            switch verdict.kind {
            case .missing: state.missing += 1
            case .extra: state.extra += 1
            case .changed, .sequence, .schema, .consumerGroup: state.changed += 1
            }
            if state.confirmed.count < checkOptions.maxDiffs { state.confirmed.append((key, verdict)) }
        }
    }
}
