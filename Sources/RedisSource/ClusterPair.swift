import Foundation
import RedisClient
import SyncCore

/// A pair with a Redis Cluster on either side (always `mode: independent`): each cluster side is
/// sampled shard by shard, and single-key commands (the heartbeat) go to the master serving the
/// key, following MOVED and ASK.
extension RedisSource {
    var isClusterPair: Bool { config.primary.cluster != nil || config.dr.cluster != nil }

    /// A cluster side's connections, kept while its slot map holds and its connections work.
    func clusterSide(_ side: Side, refresh: Bool = false) async throws -> RedisSide {
        let endpoint = side == .primary ? config.primary : config.dr
        if !refresh, let known = clusterSides[side], !known.nodes.contains(where: \.isBroken) {
            // One CLUSTER NODES on a known master says whether the map still holds.
            if let reply = try? await known.nodes[0].command(RedisCommand("CLUSTER", "NODES")), let text = reply.text,
               let map = try? ClusterMap(nodesText: text), map == known.map {
                return known
            }
        }
        clusterSides[side] = nil
        let opened = try await RedisSide.open(endpoint, side: side, database: 0, commandTimeout: .seconds(5))
        clusterSides[side] = opened
        return opened
    }

    /// One single-key command on a side: a cluster routes it by slot and follows one MOVED (the map
    /// is re-read) or ASK (ASKING on the importing master); a single server runs it as is.
    @discardableResult
    func run(_ side: Side, _ command: RedisCommand, key: String) async throws -> RedisValue {
        let endpoint = side == .primary ? config.primary : config.dr
        guard endpoint.cluster != nil else { return try await run(side, command) }
        let keyBytes = Array(key.utf8)
        var cluster = try await clusterSide(side)
        for attempt in 0..<2 {
            let reply: RedisValue
            do {
                reply = try await cluster.connection(for: keyBytes).command(command)
            } catch let error as RedisError {
                clusterSides[side] = nil
                throw SyncError.unreachable(side: "\(cluster.label) shard serving '\(key)'", message: error.message)
            }
            guard case let .error(message) = reply else { return reply }
            if message.hasPrefix("ASK "), let target = redirectTarget(message), let node = cluster.map?.shards.firstIndex(where: { $0.master == target }) {
                let answers = try await cluster.nodes[node].pipeline([RedisCommand("ASKING"), command]) { replies in
                    _ = try replies.next()
                    return try replies.next().value
                }
                if case let .error(again) = answers { throw SyncError.failed("\(cluster.label): \(again)") }
                return answers
            }
            if message.hasPrefix("MOVED ") || message.hasPrefix("ASK "), attempt == 0 {
                cluster = try await clusterSide(side, refresh: true)
                continue
            }
            throw SyncError.failed("\(cluster.label): \(String(decoding: command.arguments[0], as: UTF8.self)) failed: \(message)")
        }
        throw SyncError.failed("\(cluster.label): the slot of '\(key)' kept moving")
    }

    /// `MOVED 3999 127.0.0.1:6381` / `ASK 3999 127.0.0.1:6381` → the address.
    private func redirectTarget(_ message: String) -> RedisAddress? {
        let parts = message.split(separator: " ")
        guard parts.count == 3, let colon = parts[2].lastIndex(of: ":"), let port = Int(parts[2][parts[2].index(after: colon)...]) else { return nil }
        return RedisAddress(host: String(parts[2][..<colon]), port: port)
    }

    /// What one side of a cluster pair looks like now: its write position (summed over masters)
    /// and, for a cluster, every shard's health. A master that cannot be reached names its shard.
    struct ClusterSideView {
        var position: Int64 = 0
        var health: [String] = []
        var warnings: [String] = []
    }

    func observeSide(_ side: Side) async throws -> ClusterSideView {
        let name = side == .primary ? "primary" : "DR"
        var view = ClusterSideView()
        let endpoint = side == .primary ? config.primary : config.dr
        guard endpoint.cluster != nil else {
            let info = try await replication(side)
            if info.isReplica {
                throw SyncError.invalidState("the \(name) instance \(endpoint.host):\(endpoint.port) is a replica (of \(info.masterHost ?? "?"):\(info.masterPort ?? 0)); a pair with a cluster side is mode: independent and compares masters")
            }
            view.position = info.masterReplOffset
            return view
        }
        let cluster = try await clusterSide(side)
        guard let map = cluster.map else { return view }
        for (index, shard) in map.shards.enumerated() {
            let info: ReplicationInfo
            do {
                let text = try await cluster.nodes[index].command(RedisCommand("INFO", "replication")).text ?? ""
                info = try ReplicationInfo(fields: parseInfo(text))
            } catch {
                clusterSides[side] = nil
                throw SyncError.unreachable(side: "\(name) cluster shard \(shard.slotText) (master \(shard.master.text))", message: "\(error)")
            }
            if info.isReplica {
                clusterSides[side] = nil
                throw SyncError.invalidState("\(name) cluster shard \(shard.slotText): \(shard.master.text) is no longer its master (a cluster failover is under way)")
            }
            view.position += info.masterReplOffset
            let online = info.replicas.filter { $0.state == "online" }
            var line = "\(shard.slotText): master \(shard.master.text), \(online.count) of \(shard.replicas.count) replica(s) online"
            if !shard.failedReplicas.isEmpty { line += " (failed: \(shard.failedReplicas.map(\.text).joined(separator: ", ")))" }
            view.health.append(line)
            if online.count < shard.replicas.count || shard.replicas.isEmpty {
                view.warnings.append("\(name) cluster shard \(shard.slotText) (master \(shard.master.text)): \(online.count) of \(shard.replicas.count) replica link(s) up; the shard has no redundancy while it lasts")
            }
        }
        return view
    }

    /// The sample of a pair with a cluster side: both sides' health, lag from the heartbeat key.
    func sampleClusterPair(_ sample: inout Sample, now: Date) async -> Sample {
        var views: [Side: ClusterSideView] = [:]
        for side in [Side.primary, .dr] {
            do {
                views[side] = try await observeSide(side)
            } catch let SyncError.unreachable(where_, message) {
                sample.state = .unreachable
                sample.errors.append("\(where_) is unreachable: \(message)")
            } catch {
                sample.state = .broken
                sample.errors.append("\(error)")
            }
        }
        for (side, view) in views where !view.health.isEmpty {
            sample.details["\(side == .primary ? "primary" : "dr")_shards"] = view.health.joined(separator: "; ")
        }
        let warnings = views.values.flatMap(\.warnings)
        if !warnings.isEmpty { sample.details["shard_warnings"] = warnings.joined(separator: "; ") }
        guard sample.errors.isEmpty, let dr = views[.dr] else { return sample }
        sample.position = dr.position
        let heartbeat = await heartbeatLag(now: now)
        if heartbeat != nil { sample.details["heartbeat_key"] = options.heartbeatKey }
        judgeByHeartbeat(&sample, heartbeat, unshared: "a pair with a cluster side shares no replication offsets", drSide: "the DR side")
        return sample
    }
}
