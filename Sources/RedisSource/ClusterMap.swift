import Foundation
import RedisClient
import SyncCore

/// Which Redis Cluster slot a key lives in: CRC16 (XMODEM) of the key, or of its hash tag (the
/// bytes between the first `{` and the next `}`, when not empty), modulo 16384.
enum ClusterSlot {
    static let count = 16384

    static func of<Bytes: Collection>(_ key: Bytes) -> Int where Bytes.Element == UInt8, Bytes.Index == Int {
        if let open = key.firstIndex(of: UInt8(ascii: "{")),
           let close = key[(open + 1)...].firstIndex(of: UInt8(ascii: "}")), close > open + 1 {
            return Int(crc16(key[(open + 1)..<close]) % UInt16(count))
        }
        return Int(crc16(key) % UInt16(count))
    }

    static func of(_ key: UnsafeRawBufferPointer) -> Int {
        of(Array(key))
    }

    static func crc16<Bytes: Sequence>(_ bytes: Bytes) -> UInt16 where Bytes.Element == UInt8 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc ^= UInt16(byte) << 8
            for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        }
        return crc
    }
}

/// One shard of a cluster: its master, its replicas and the slots it serves.
struct ClusterShard: Sendable, Equatable {
    var master: RedisAddress
    var replicas: [RedisAddress]
    /// Replicas the cluster marks failed (`fail` / `fail?`) or disconnected.
    var failedReplicas: [RedisAddress]
    var slots: [ClosedRange<Int>]
    var masterFailed: Bool

    var slotText: String { slots.map { $0.count == 1 ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }.joined(separator: ",") }
}

/// A cluster's slot map as one node reported it (`CLUSTER NODES`, which unlike `CLUSTER SHARDS`
/// also carries the slots being migrated or imported).
struct ClusterMap: Sendable, Equatable {
    var shards: [ClusterShard]
    /// Shard index by slot; -1 where no master serves the slot.
    var owner: [Int16]
    /// Slots in a MIGRATING or IMPORTING state: keys may sit on either of two masters.
    var movingSlots: [Int]

    var uncovered: [ClosedRange<Int>] { Self.ranges(of: owner.indices.filter { owner[$0] < 0 }) }

    func shard(forSlot slot: Int) -> Int? {
        let index = owner[slot]
        return index < 0 ? nil : Int(index)
    }

    /// What a check compares before and after: who serves each slot and which slots move.
    var layout: String {
        shards.map { "\($0.master.text)=\($0.slotText)" }.sorted().joined(separator: " ") + (movingSlots.isEmpty ? "" : " moving=\(movingSlots)")
    }

    /// Parses `CLUSTER NODES` text. Node lines: id, ip:port@cport[,hostname], flags, master id,
    /// ping, pong, epoch, link state, then slots (`0-5460`, `93`, `[93->-id]`, `[93-<-id]`).
    init(nodesText: String) throws {
        // Node ids and flags are the server's words, matched as bytes.
        struct Node {
            var id: ByteKey, address: RedisAddress, flags: Set<ByteKey>, masterID: ByteKey, connected: Bool, slots: [ClosedRange<Int>]
            func flagged(_ flag: String) -> Bool { flags.contains(ByteKey(flag)) }
        }
        var nodes: [Node] = []
        var moving: Set<Int> = []
        for line in nodesText.split(whereSeparator: \.isNewline) {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard fields.count >= 8 else { throw SyncError.failed("CLUSTER NODES: a line has \(fields.count) fields: \(line)") }
            let hostPort = fields[1].split(separator: "@")[0]
            guard let colon = hostPort.lastIndex(of: ":"), let port = Int(hostPort[hostPort.index(after: colon)...]) else {
                throw SyncError.failed("CLUSTER NODES: no ip:port in \(fields[1])")
            }
            var slots: [ClosedRange<Int>] = []
            for item in fields.dropFirst(8) {
                if item.hasPrefix("[") {
                    if let number = Int(item.dropFirst().prefix { $0.isNumber }) { moving.insert(number) }
                    continue
                }
                let bounds = item.split(separator: "-").compactMap { Int($0) }
                guard let low = bounds.first, let high = bounds.last, low <= high, high < ClusterSlot.count else {
                    throw SyncError.failed("CLUSTER NODES: unreadable slot range '\(item)'")
                }
                slots.append(low...high)
            }
            nodes.append(Node(id: ByteKey(fields[0]), address: RedisAddress(host: String(hostPort[..<colon]), port: port),
                              flags: Set(fields[2].split(separator: ",").map { ByteKey(String($0)) }), masterID: ByteKey(fields[3]),
                              connected: fields[7].sameBytes(as: "connected"), slots: slots))
        }
        var shards: [ClusterShard] = []
        var owner = [Int16](repeating: -1, count: ClusterSlot.count)
        let masters = nodes.filter { $0.flagged("master") && !$0.slots.isEmpty }.sorted { $0.slots[0].lowerBound < $1.slots[0].lowerBound }
        for master in masters {
            let replicas = nodes.filter { $0.masterID == master.id }
            let failed = replicas.filter { !$0.connected || $0.flagged("fail") || $0.flagged("fail?") }
            for range in master.slots {
                for slot in range {
                    if owner[slot] >= 0 { throw SyncError.failed("CLUSTER NODES: slot \(slot) has two masters") }
                    owner[slot] = Int16(shards.count)
                }
            }
            shards.append(ClusterShard(master: master.address, replicas: replicas.map(\.address),
                                       failedReplicas: failed.map(\.address), slots: master.slots,
                                       masterFailed: master.flagged("fail") || master.flagged("fail?") || !master.connected))
        }
        guard !shards.isEmpty else { throw SyncError.failed("CLUSTER NODES lists no master serving slots") }
        self.shards = shards
        self.owner = owner
        movingSlots = moving.sorted()
    }

    static func ranges(of slots: [Int]) -> [ClosedRange<Int>] {
        var ranges: [ClosedRange<Int>] = []
        for slot in slots {
            if let last = ranges.last, last.upperBound + 1 == slot { ranges[ranges.count - 1] = last.lowerBound...slot } else { ranges.append(slot...slot) }
        }
        return ranges
    }

    /// Asks the seeds in turn (the configured node first) until one answers `CLUSTER NODES`.
    static func discover(_ endpoint: EndpointConfig, _ cluster: RedisClusterOptions, side: Side) async throws -> ClusterMap {
        var failures: [String] = []
        for seed in cluster.seeds {
            var target = endpoint
            (target.host, target.port, target.options) = (seed.host, seed.port, nil)
            do {
                let connection = try await RedisConnection.connect(RedisConnectionParameters(endpoint: target, commandTimeout: .seconds(3)))
                let reply = try await connection.command(RedisCommand("CLUSTER", "NODES"))
                if case let .error(message) = reply { throw SyncError.failed(message) }
                guard let text = reply.text else { throw SyncError.failed("CLUSTER NODES gave no text") }
                return try ClusterMap(nodesText: text)
            } catch let error as RedisError {
                failures.append("\(seed.text): \(error.message)")
            } catch let SyncError.failed(message) {
                failures.append("\(seed.text): \(message)")
            }
        }
        throw SyncError.unreachable(side: "\(side == .primary ? "primary" : "DR") cluster", message: "no seed node answered CLUSTER NODES (\(failures.joined(separator: "; ")))")
    }
}
