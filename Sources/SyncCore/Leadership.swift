import Foundation
import Synchronization

/// Who this syncd is among the instances that share a journal (`instance:` in the config).
public struct InstanceIdentity: Sendable, Equatable, Codable {
    public var id: String
    public var site: String
    /// Where the other instances and operators reach this one's API.
    public var url: String?
    /// The CA bundle that signed the other instances' API certificates (forwarding to the leader);
    /// nil: the system's.
    public var caFile: String?

    public init(id: String, site: String, url: String?, caFile: String? = nil) {
        self.id = id
        self.site = site
        self.url = url
        self.caFile = caFile
    }
}

/// The leader lease as the database holds it. `token` (the fencing token) grows with every new
/// term: a takeover, or the holder renewing after its lease had lapsed.
public struct LeaseState: Sendable, Equatable, Codable {
    public var holder: String?
    public var holderURL: String?
    public var token: Int64
    public var expiresAt: Date?
    /// True when this instance holds the lease (it acquired or renewed it just now).
    public var isMine: Bool

    public init(holder: String?, holderURL: String?, token: Int64, expiresAt: Date?, isMine: Bool) {
        self.holder = holder
        self.holderURL = holderURL
        self.token = token
        self.expiresAt = expiresAt
        self.isMine = isMine
    }
}

/// One instance as the others see it, from its heartbeat in the shared database.
public struct InstanceRecord: Sendable, Equatable, Codable {
    public var id: String
    public var site: String
    public var url: String?
    public var role: String
    public var lastHeartbeat: Date
    public var heartbeatAgeSeconds: Double

    public init(id: String, site: String, url: String?, role: String, lastHeartbeat: Date, heartbeatAgeSeconds: Double) {
        self.id = id
        self.site = site
        self.url = url
        self.role = role
        self.lastHeartbeat = lastHeartbeat
        self.heartbeatAgeSeconds = heartbeatAgeSeconds
    }
}

/// Where the lease and the instances' heartbeats live (the shared journal's database).
public protocol LeaseStore: Sendable {
    /// Renews the lease when this instance holds it, takes it when it is free or expired, and
    /// answers who holds it otherwise. Times are the database's, so instances' clocks never race.
    func acquire(_ instance: InstanceIdentity, ttlSeconds: Double) async throws -> LeaseState
    /// Gives the lease up at a clean stop, so another instance takes over at once.
    func release(_ instance: InstanceIdentity) async
    func heartbeat(_ instance: InstanceIdentity, role: String) async throws
    func instances() async throws -> [InstanceRecord]
}

/// The process's permission to do leader-only writes (the Kafka mirror, the S3 managed copy, the
/// Redis heartbeat key, scheduled checks, cutover runs). Granted until a local deadline that ends
/// before the database's lease does (it is counted from before the renewal was sent), so an
/// instance that was paused or cut off past its lease stops writing before another can take over.
public final class WriteFence: Sendable {
    private let state: Mutex<(token: Int64?, until: ContinuousClock.Instant?)>

    /// One instance per process; a single syncd without a shared journal is always the writer.
    public static let shared = WriteFence(alwaysLeader: true)

    public init(alwaysLeader: Bool) {
        state = Mutex((token: alwaysLeader ? 0 : nil, until: nil))
    }

    /// Whether a leader-only write may start now.
    public func allows() -> Bool {
        state.withLock { value in
            guard value.token != nil else { return false }
            guard let until = value.until else { return true }
            return ContinuousClock.now < until
        }
    }

    /// The fencing token of the term this instance holds now; nil when it may not write.
    public var token: Int64? {
        state.withLock { value in
            guard let token = value.token else { return nil }
            if let until = value.until, ContinuousClock.now >= until { return nil }
            return token
        }
    }

    public func grant(token: Int64, until: ContinuousClock.Instant) {
        state.withLock { $0 = (token: token, until: until) }
    }

    public func revoke() {
        state.withLock { $0 = (token: nil, until: nil) }
    }
}
