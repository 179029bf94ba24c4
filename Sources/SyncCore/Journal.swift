import Foundation

/// One audited event: a gate evaluation, a control action, a check.
public struct JournalEntry: Sendable, Codable, Equatable {
    public var id: Int64
    public var time: Date
    public var kind: String
    public var source: String?
    public var actor: String
    public var action: String
    public var outcome: String
    public var detail: JSONValue?

    public init(id: Int64, time: Date, kind: String, source: String?, actor: String, action: String, outcome: String, detail: JSONValue?) {
        self.id = id
        self.time = time
        self.kind = kind
        self.source = source
        self.actor = actor
        self.action = action
        self.outcome = outcome
        self.detail = detail
    }
}

/// The kinds of entry syncd writes; `/v1/journal?kind=` and `syncctl journal --kind` take these.
public enum JournalKinds {
    public static let all = ["gate", "check", "reconcile", "control", "cutover", "lag", "service"]
}

public struct JournalError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
    public init(message: String) { self.message = message }
}

/// Where the audit journal lives (an SQLite file today; a shared database for several syncd
/// instances later). The manager depends on this contract only, never on a storage module.
public protocol JournalStore: Sendable {
    /// Where the journal is, for messages ("journal /var/lib/syncd/journal.sqlite").
    var location: String { get }
    @discardableResult
    func append(kind: String, source: String?, actor: String, action: String, outcome: String,
                detail: JSONValue?, at time: Date) async throws -> JournalEntry
    /// Newest first.
    func recent(limit: Int, source: String?, kind: String?) async throws -> [JournalEntry]
    /// Checks every entry's hash and link (see `JournalChain`).
    func verifyChain() async throws -> JournalVerification
    /// Removes entries older than `olderThan`, except those of `keepKinds`, and appends a
    /// checkpoint that keeps the chain verifiable; nil when there was nothing to prune.
    func prune(olderThan: Date, keepKinds: Set<String>, actor: String) async throws -> JournalChain.Checkpoint?
}

extension JournalStore {
    @discardableResult
    public func append(kind: String, source: String?, actor: String, action: String, outcome: String,
                       detail: JSONValue? = nil) async throws -> JournalEntry {
        try await append(kind: kind, source: source, actor: actor, action: action, outcome: outcome, detail: detail, at: Date())
    }

    public func recent(limit: Int = 100, source: String? = nil, kind: String? = nil) async throws -> [JournalEntry] {
        try await recent(limit: limit, source: source, kind: kind)
    }
}
