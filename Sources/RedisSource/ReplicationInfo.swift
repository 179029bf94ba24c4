import Foundation
import RedisClient

/// `INFO <section>` text as key → value (section headers and blank lines dropped).
public func parseInfo(_ text: String) -> [String: String] {
    var fields: [String: String] = [:]
    for line in text.split(whereSeparator: \.isNewline) {
        guard !line.hasPrefix("#"), let colon = line.firstIndex(of: ":") else { continue }
        fields[String(line[..<colon])] = String(line[line.index(after: colon)...])
    }
    return fields
}

/// What `INFO replication` says about one server, in the terms the adapter needs.
public struct ReplicationInfo: Sendable, Equatable {
    public struct Replica: Sendable, Equatable {
        public var ip: String
        public var port: Int
        public var state: String
        /// The offset the replica last acknowledged (REPLCONF ACK, about once a second).
        public var offset: Int64
        public var lag: Int
    }

    public var isReplica: Bool
    public var masterHost: String?
    public var masterPort: Int?
    public var linkUp: Bool
    public var lastIOSecondsAgo: Int?
    public var linkDownSinceSeconds: Int?
    public var syncInProgress: Bool
    public var syncTotalBytes: Int64?
    public var syncReadBytes: Int64?
    /// Offset up to which a replica has applied the stream (in its master's offset space).
    public var appliedOffset: Int64?
    /// The server's own replication offset (a master's write position).
    public var masterReplOffset: Int64
    public var replicationID: String
    public var replicas: [Replica]

    public init(fields: [String: String]) throws {
        guard let role = fields["role"] else { throw RedisError(kind: .protocolViolation, message: "INFO replication has no role field") }
        isReplica = role == "slave"
        masterHost = fields["master_host"]
        masterPort = fields["master_port"].flatMap { Int($0) }
        linkUp = fields["master_link_status"] == "up"
        lastIOSecondsAgo = fields["master_last_io_seconds_ago"].flatMap { Int($0) }.flatMap { $0 >= 0 ? $0 : nil }
        linkDownSinceSeconds = fields["master_link_down_since_seconds"].flatMap { Int($0) }.flatMap { $0 >= 0 ? $0 : nil }
        syncInProgress = fields["master_sync_in_progress"] == "1"
        syncTotalBytes = fields["master_sync_total_bytes"].flatMap { Int64($0) }
        syncReadBytes = fields["master_sync_read_bytes"].flatMap { Int64($0) }
        appliedOffset = fields["slave_repl_offset"].flatMap { Int64($0) }
        masterReplOffset = fields["master_repl_offset"].flatMap { Int64($0) } ?? 0
        replicationID = fields["master_replid"] ?? ""
        replicas = fields.keys.filter { $0.hasPrefix("slave") && Int($0.dropFirst(5)) != nil }.sorted().compactMap { key in
            ReplicationInfo.replica(fields[key]!)
        }
    }

    /// `ip=127.0.0.1,port=6380,state=online,offset=123,lag=0`
    static func replica(_ text: String) -> Replica? {
        var values: [Substring: Substring] = [:]
        for pair in text.split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { values[parts[0]] = parts[1] }
        }
        guard let ip = values["ip"], let port = values["port"].flatMap({ Int($0) }),
              let offset = values["offset"].flatMap({ Int64($0) }) else { return nil }
        return Replica(ip: String(ip), port: port, state: String(values["state"] ?? "unknown"), offset: offset,
                       lag: values["lag"].flatMap { Int($0) } ?? -1)
    }

    /// Syncd's pause parks a replica on port 0, where every connect is refused at once: the
    /// replica stays read-only and keeps its replication ID and offset for a partial resync.
    public var isParkedBySyncd: Bool { isReplica && masterPort == 0 }

    /// The entry for the DR replica in a primary's list: matched by port, and by address too when several share it.
    public func replica(port: Int, host: String) -> Replica? {
        let candidates = replicas.filter { $0.port == port }
        if candidates.count <= 1 { return candidates.first }
        return candidates.first { $0.ip == host }
    }
}
