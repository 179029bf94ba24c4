import Foundation
import RedisClient
import SyncCore

/// One side of a pair as the check, the copier and reconcile reach it: a single server, or a
/// cluster's masters, each key routed to the master serving its slot. Every master of a cluster is
/// a scan unit: SCAN on one master lists only that master's keys.
final class RedisSide: Sendable {
    let side: Side
    let label: String
    /// Nil for a single server.
    let map: ClusterMap?
    /// One connection per scan unit: the server, or each shard's master in shard order.
    let nodes: [RedisConnection]

    private init(side: Side, label: String, map: ClusterMap?, nodes: [RedisConnection]) {
        self.side = side
        self.label = label
        self.map = map
        self.nodes = nodes
    }

    var isCluster: Bool { map != nil }

    /// Connects to the server, or discovers the cluster and connects to every master.
    static func open(_ endpoint: EndpointConfig, side: Side, database: Int, commandTimeout: Duration = .seconds(60)) async throws -> RedisSide {
        guard let cluster = endpoint.cluster else {
            let connection = try await RedisSource.open(endpoint, side: side, database: database, commandTimeout: commandTimeout)
            return RedisSide(side: side, label: describeSide(side, endpoint), map: nil, nodes: [connection])
        }
        let map = try await ClusterMap.discover(endpoint, cluster, side: side)
        if !map.uncovered.isEmpty {
            throw SyncError.invalidState("\(describeSide(side, endpoint)) cluster: no master serves slots \(map.uncovered.map { "\($0.lowerBound)-\($0.upperBound)" }.joined(separator: ",")) (cluster_state is not ok)")
        }
        var nodes: [RedisConnection] = []
        for shard in map.shards {
            var target = endpoint
            (target.host, target.port, target.options) = (shard.master.host, shard.master.port, nil)
            do {
                nodes.append(try await RedisSource.open(target, side: side, database: 0, commandTimeout: commandTimeout))
            } catch let SyncError.unreachable(_, message) {
                throw SyncError.unreachable(side: "\(side == .primary ? "primary" : "DR") cluster shard \(shard.slotText) (master \(shard.master.text))", message: message)
            }
        }
        return RedisSide(side: side, label: "\(describeSide(side, endpoint)) cluster", map: map, nodes: nodes)
    }

    /// The scan unit serving `key`.
    func node(for key: [UInt8]) -> Int {
        guard let map else { return 0 }
        return map.shard(forSlot: ClusterSlot.of(key)) ?? 0
    }

    func connection(for key: [UInt8]) -> RedisConnection { nodes[node(for: key)] }

    /// The keys grouped by the scan unit serving them on this side and on `other`; a pair of
    /// single servers keeps the list as it is.
    func pairs(_ keys: KeyList, with other: RedisSide) -> [(mine: Int, theirs: Int, keys: KeyList)] {
        guard isCluster || other.isCluster else { return [(0, 0, keys)] }
        var groups: [Int: KeyList] = [:]
        var order: [Int] = []
        let width = max(other.nodes.count, 1)
        for index in keys.indices {
            let key = keys[index]
            let group = node(for: key) * width + other.node(for: key)
            if groups[group] == nil { order.append(group) }
            groups[group, default: KeyList()].append(index, of: keys)
        }
        return order.map { ($0 / width, $0 % width, groups[$0]!) }
    }

    /// Keys on this side: the sum over the masters.
    func keyCount() async throws -> Int64 {
        var total: Int64 = 0
        for node in nodes { total += (try await node.command(RedisCommand("DBSIZE")).integer) ?? 0 }
        return total
    }

    /// The same single-key command for each key, pipelined per scan unit; replies in key order.
    func eachKey<T: Sendable>(_ name: String, _ keys: [[UInt8]], _ read: @escaping @Sendable (RedisReplyRef) throws -> T) async throws -> [T] {
        var results = [T?](repeating: nil, count: keys.count)
        var positions: [Int: [Int]] = [:]
        for (index, key) in keys.enumerated() { positions[node(for: key), default: []].append(index) }
        for (node, indices) in positions {
            let commands = indices.map { RedisCommand([Array(name.utf8), keys[$0]]) }
            let values = try await nodes[node].pipeline(commands) { replies in try indices.map { _ in try read(try replies.next()) } }
            for (index, value) in zip(indices, values) { results[index] = value }
        }
        return results.map { $0! }
    }

    /// Deletes `keys` one command per key (a cluster refuses a DEL across slots); how many existed.
    func delete(_ keys: [[UInt8]]) async throws -> Int {
        try await eachKey("DEL", keys) { try $0.expectInteger("DEL") }.reduce(0) { $0 + Int($1) }
    }
}

/// A cluster whose slot map changed, or had slots moving, between the start and the end of a
/// check: per-master SCANs may have missed keys in those slots.
struct SlotStability {
    let before: [Side: ClusterMap]

    static func capture(_ sides: [RedisSide]) -> SlotStability {
        SlotStability(before: Dictionary(sides.compactMap { side in side.map.map { (side.side, $0) } }, uniquingKeysWith: { first, _ in first }))
    }

    /// Throws when any cluster's layout differs now, or had or has slots being migrated.
    func verify(_ config: SourceConfig) async throws {
        for (side, map) in before.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            let endpoint = side == .primary ? config.primary : config.dr
            guard let cluster = endpoint.cluster else { continue }
            let now = try await ClusterMap.discover(endpoint, cluster, side: side)
            let name = side == .primary ? "the primary cluster" : "the DR cluster"
            if !map.movingSlots.isEmpty || !now.movingSlots.isEmpty {
                throw SyncError.failed("slots of \(name) were being migrated during the check (\(Set(map.movingSlots + now.movingSlots).sorted().map(String.init).joined(separator: ", "))): keys in them may sit on either master, so per-master SCANs could miss some; run the check again once the migration is done")
            }
            if now.layout != map.layout {
                throw SyncError.failed("the slot map of \(name) changed during the check (before: \(map.layout); after: \(now.layout)): per-master SCANs could have missed keys that moved; run the check again")
            }
        }
    }
}

/// A cluster answering MOVED or ASK in the middle of a check or copy: the slot moved or is being
/// migrated, so the keys of that slot cannot be said to have been seen.
enum ClusterRedirect {
    static func explain(_ error: Error) -> Error {
        let text: String
        switch error {
        case let error as RedisError: text = error.message
        case let SyncError.failed(message): text = message
        default: return error
        }
        guard let range = text.range(of: #"(MOVED|ASK) [0-9]+ \S+"#, options: .regularExpression) else { return error }
        let words = text[range].split(separator: " ")
        return SyncError.failed("slot \(words[1]) moved or is being migrated (a cluster answered '\(text[range])'): per-master SCANs could miss its keys, so this run is not a result; run it again once the migration is done")
    }
}
