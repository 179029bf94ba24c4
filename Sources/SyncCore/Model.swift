import Foundation

/// The kinds of data store syncd knows. Each kind has its own adapter module.
/// A source kind's name as configs, journals and the API spell it ("postgres", "redis", ...).
/// SyncCore knows no kind: each adapter module declares its own and registers a `SourceDescriptor`.
public struct SourceKind: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public init(from decoder: Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }
}

/// Replication state of one source, as the gate and operators see it.
public enum SyncState: String, Sendable, Codable, CaseIterable {
    case inSync = "in_sync"
    case syncing
    case lagging
    case paused
    case broken
    case unreachable
}

public enum VolumeUnit: String, Sendable, Codable {
    case bytes, records, keys, objects
}

/// Operations a source may support; an adapter lists the ones its topology allows.
public enum SourceOperation: String, Sendable, Codable, CaseIterable {
    case pause, resume, fullSync = "full_sync", drain, check, reconcile
}

/// One observation of a source, taken by its poll loop.
public struct Sample: Sendable, Codable, Equatable {
    public var time: Date
    public var state: SyncState
    /// How far behind the DR side is in time; nil when it cannot be known (fail closed).
    public var lagSeconds: Double?
    /// How far behind the DR side is in volume (`unit`); nil when unknown.
    public var lagVolume: Int64?
    public var unit: VolumeUnit
    /// A monotonically growing DR-side progress counter (e.g. replayed WAL bytes); throughput comes from its deltas.
    public var position: Int64?
    /// Units applied per second on the DR side, computed by the sync manager from consecutive samples.
    public var throughput: Double?
    /// Topology the adapter detected ("physical", "logical", ...).
    public var topology: String?
    /// Source-specific facts worth showing (LSNs, receiver status, ...).
    public var details: [String: String]
    /// Why the state is what it is, when it is not plainly healthy.
    public var errors: [String]
    /// Which servers hold the roles where they can move (the master a Sentinel names, with its
    /// config epoch); nil where roles never move. A check made against another stamp is stale.
    public var topologyStamp: String?

    public init(
        time: Date = Date(), state: SyncState, lagSeconds: Double? = nil, lagVolume: Int64? = nil,
        unit: VolumeUnit, position: Int64? = nil, throughput: Double? = nil, topology: String? = nil,
        details: [String: String] = [:], errors: [String] = []
    ) {
        self.time = time
        self.state = state
        self.lagSeconds = lagSeconds
        self.lagVolume = lagVolume
        self.unit = unit
        self.position = position
        self.throughput = throughput
        self.topology = topology
        self.details = details
        self.errors = errors
    }
}

extension Sample {
    /// A poll that could not observe the source: `unreachable` when a side could not be reached
    /// (the error names it), `broken` for anything else.
    public static func failed(_ error: Error, time: Date, unit: VolumeUnit, topology: String? = nil) -> Sample {
        if case let SyncError.unreachable(side, message) = error {
            return Sample(time: time, state: .unreachable, unit: unit, topology: topology, errors: ["\(side) is unreachable: \(message)"])
        }
        return Sample(time: time, state: .broken, unit: unit, topology: topology, errors: ["\(error)"])
    }
}

/// What a completed wait-for-drain observed.
public struct DrainResult: Sendable, Codable, Equatable {
    /// The primary's position captured at the moment of the call.
    public var target: String
    /// The DR side's position when the wait ended.
    public var reached: String
    public var waitedSeconds: Double

    public init(target: String, reached: String, waitedSeconds: Double) {
        self.target = target
        self.reached = reached
        self.waitedSeconds = waitedSeconds
    }
}

/// Errors every adapter and the manager speak; each message says what happened and what to do.
public enum SyncError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The topology cannot do this; `remedy` says what to do instead.
    case unsupported(operation: SourceOperation, reason: String, remedy: String)
    /// The operation is possible in general but not in the current state (e.g. drain while paused).
    case invalidState(String)
    case timeout(String)
    case unreachable(side: String, message: String)
    /// Another control operation on the same source is still running.
    case busy(String)
    case failed(String)

    public var description: String {
        switch self {
        case let .unsupported(operation, reason, remedy):
            "\(operation.rawValue) is not supported: \(reason); \(remedy)"
        case let .invalidState(message): message
        case let .timeout(message): message
        case let .unreachable(side, message): "\(side) is unreachable: \(message)"
        case let .busy(message): message
        case let .failed(message): message
        }
    }
}

/// An error an operation reports to its caller: the words, a plain status code (HTTP's numbers, so
/// the API answers it as is; SyncCore knows no HTTP library), a stable machine code, and what to do.
public protocol OperationError: Error, CustomStringConvertible {
    var statusCode: Int { get }
    var code: String { get }
    var remedy: String? { get }
}

extension SyncError: OperationError {
    public var statusCode: Int {
        switch self {
        case .busy, .invalidState: 409
        case .unsupported: 422
        case .timeout: 504
        case .unreachable: 502
        case .failed: 500
        }
    }

    public var code: String {
        switch self {
        case .unsupported: "unsupported"
        case .invalidState: "invalid_state"
        case .timeout: "timeout"
        case .unreachable: "unreachable"
        case .busy: "busy"
        case .failed: "failed"
        }
    }

    public var remedy: String? {
        if case let .unsupported(_, _, remedy) = self { return remedy }
        return nil
    }
}

/// Which side of a replicated pair a message is about.
public enum Side: String, Sendable, Codable {
    case primary
    case dr
}

/// "primary db1:5432" / "DR db2:5432": how every message names a side.
public func describeSide(_ side: Side, _ endpoint: EndpointConfig) -> String {
    "\(side == .primary ? "primary" : "DR") \(endpoint.host):\(endpoint.port)"
}

extension Array {
    /// Consecutive slices of at most `size` elements.
    public func chunks(of size: Int) -> [[Element]] {
        stride(from: 0, to: count, by: Swift.max(1, size)).map { Array(self[$0..<Swift.min($0 + size, count)]) }
    }
}

/// The one way syncd waits for a condition it cannot be told about (a server confirming a pause, a
/// DR side catching up): look every `interval`, give up at `timeout` with what it waited for.
public enum Poll {
    /// Returns once `condition` holds; throws `SyncError.timeout` naming `what` after `timeout`.
    public static func until(_ what: String, every interval: Duration = .milliseconds(100), timeout: Duration,
                             isolation: isolated (any Actor)? = #isolation,
                             _ condition: () async throws -> Bool) async throws {
        _ = try await first(every: interval, timeout: timeout, isolation: isolation,
                            timedOut: { "timed out after \(timeout.seconds) s waiting for \(what)" }) {
            try await condition() ? true : nil
        }
    }

    /// The first non-nil value `probe` gives; after `timeout`, `SyncError.timeout` with the words
    /// `timedOut` gives then (so they can say how far it got). `probe` may throw to stop at once.
    public static func first<T>(every interval: Duration = .milliseconds(100), timeout: Duration,
                                isolation: isolated (any Actor)? = #isolation,
                                timedOut: () async -> String, _ probe: () async throws -> T?) async throws -> T {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let value = try await probe() { return value }
            guard ContinuousClock.now < deadline else { throw SyncError.timeout(await timedOut()) }
            try await Task.sleep(for: min(interval, max(.milliseconds(1), ContinuousClock.now.duration(to: deadline))))
        }
    }
}
