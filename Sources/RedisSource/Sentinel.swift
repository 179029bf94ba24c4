import Foundation
import RedisClient
import SyncCore

/// The master Sentinel currently names for a side, confirmed by the server itself.
struct ResolvedMaster: Sendable, Equatable {
    var host: String
    var port: Int
    /// Grows with every failover the sentinels agree on: the same address after two failovers is
    /// still another term.
    var configEpoch: Int64
    /// How many of the configured sentinels answered.
    var answered: Int
    var asked: Int

    var address: String { "\(host):\(port)" }
    var stamp: String { "master \(address) (sentinel config epoch \(configEpoch))" }
}

/// What one sentinel says about a master (`SENTINEL MASTER name`).
struct SentinelView: Sendable, Equatable {
    var host: String
    var port: Int
    var configEpoch: Int64
    var flags: [String]

    /// The fields of a `SENTINEL MASTER` reply (a flat field/value array).
    init(reply: RedisValue, masterName: String) throws {
        guard case let .array(items) = reply, items.count % 2 == 0 else {
            if case let .error(message) = reply { throw SyncError.failed(message) }
            throw SyncError.failed("unexpected reply to SENTINEL MASTER \(masterName)")
        }
        // Field names are the server's bytes, matched as bytes.
        var fields: [ByteKey: String] = [:]
        for index in stride(from: 0, to: items.count, by: 2) {
            if let name = items[index].bytes, let value = items[index + 1].text { fields[ByteKey(name)] = value }
        }
        guard let host = fields[ByteKey("ip")], let port = fields[ByteKey("port")].flatMap({ Int($0) }) else {
            throw SyncError.failed("SENTINEL MASTER \(masterName) gave no ip and port")
        }
        self.host = host
        self.port = port
        configEpoch = fields[ByteKey("config-epoch")].flatMap { Int64($0) } ?? 0
        flags = (fields[ByteKey("flags")] ?? "").split(separator: ",").map(String.init)
    }

    /// The sentinel sees the master objectively down or is moving it: the roles are in flux.
    var failoverUnderWay: Bool { flags.contains { $0.sameBytes(as: "o_down") || $0.sameBytes(as: "failover_in_progress") } }
}

enum SentinelResolver {
    /// Asks every sentinel at once, takes the answer of the highest config epoch, and accepts it
    /// only when that server itself reports role master: a demoted master that still answers, or
    /// sentinels that have not caught up, never pass for the primary.
    static func resolve(_ endpoint: EndpointConfig, _ sentinel: SentinelOptions, side: Side) async throws -> ResolvedMaster {
        let label = "\(side == .primary ? "primary" : "DR") (sentinels of '\(sentinel.masterName)')"
        let answers = await withTaskGroup(of: (String, Result<SentinelView, Error>).self) { group in
            for address in sentinel.sentinels {
                group.addTask {
                    do {
                        return (address.text, .success(try await ask(address, sentinel, timeoutSeconds: endpoint.connectTimeoutSeconds)))
                    } catch {
                        return (address.text, .failure(error))
                    }
                }
            }
            var all: [(String, Result<SentinelView, Error>)] = []
            for await answer in group { all.append(answer) }
            return all.sorted { $0.0 < $1.0 }
        }
        let views = answers.compactMap { try? $0.1.get() }
        guard let newest = views.max(by: { $0.configEpoch < $1.configEpoch }) else {
            let failures = answers.map { address, result in
                if case let .failure(error) = result { return "\(address): \(describe(error))" }
                return address
            }
            throw SyncError.unreachable(side: label, message: "no sentinel answered (\(failures.joined(separator: "; ")))")
        }
        if let moving = views.first(where: \.failoverUnderWay) {
            throw SyncError.invalidState("\(label): a failover of '\(sentinel.masterName)' is under way (sentinel flags \(moving.flags.joined(separator: ","))): the roles are moving")
        }
        let disagreeing = views.filter { $0.configEpoch == newest.configEpoch && (!$0.host.sameBytes(as: newest.host) || $0.port != newest.port) }
        if !disagreeing.isEmpty {
            throw SyncError.invalidState("\(label): sentinels of the same config epoch \(newest.configEpoch) name different masters (\(newest.host):\(newest.port) and \(disagreeing[0].host):\(disagreeing[0].port))")
        }
        var target = endpoint
        (target.host, target.port, target.options) = (newest.host, newest.port, nil)
        let role: RedisValue
        do {
            let connection = try await RedisConnection.connect(RedisConnectionParameters(endpoint: target, commandTimeout: .seconds(3)))
            role = try await connection.command(RedisCommand("ROLE"))
        } catch let error as RedisError {
            throw SyncError.unreachable(side: "\(label): master \(newest.host):\(newest.port)", message: error.message)
        }
        guard case let .array(items) = role, let kind = items.first?.text else {
            throw SyncError.failed("\(label): ROLE at \(newest.host):\(newest.port) gave no role")
        }
        guard kind.sameBytes(as: "master") else {
            let following = items.count >= 3 ? " of \(items[1].text ?? "?"):\(items[2].text ?? "?")" : ""
            throw SyncError.invalidState("\(label): the sentinels name \(newest.host):\(newest.port) as master (config epoch \(newest.configEpoch)), but it reports role '\(kind)'\(following): a failover is under way or the sentinels are out of date")
        }
        return ResolvedMaster(host: newest.host, port: newest.port, configEpoch: newest.configEpoch,
                              answered: views.count, asked: sentinel.sentinels.count)
    }

    private static func ask(_ address: RedisAddress, _ sentinel: SentinelOptions, timeoutSeconds: Int) async throws -> SentinelView {
        let endpoint = EndpointConfig(host: address.host, port: address.port, user: sentinel.user, password: sentinel.password,
                                      connectTimeoutSeconds: timeoutSeconds)
        do {
            let connection = try await RedisConnection.connect(RedisConnectionParameters(endpoint: endpoint, commandTimeout: .seconds(2)))
            return try SentinelView(reply: try await connection.command(RedisCommand("SENTINEL", "MASTER", sentinel.masterName)),
                                    masterName: sentinel.masterName)
        } catch let error as RedisError {
            throw SyncError.failed(error.message)
        }
    }

    private static func describe(_ error: Error) -> String {
        if case let SyncError.failed(message) = error { return message }
        return "\(error)"
    }
}
