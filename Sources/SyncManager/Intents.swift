import Foundation
import SyncCore

/// Intent before effect: an operation that may change something (a check's statements, a
/// reconcile, a control action) is journaled when it starts and again when it ends, so a process
/// killed half-way leaves a trace the next start finds.
extension SyncManager {
    static let operationKey = "operation"
    static let startedOutcome = "started"
    static let interruptedOutcome = "interrupted"

    /// Journals the start; the operation's id goes into its end entry. Nothing is done when this fails.
    func journalIntent(kind: String, source: String, actor: String, action: String, detail: [String: JSONValue] = [:]) async throws -> String {
        let operation = UUID().uuidString.lowercased()
        var detail = detail
        detail[Self.operationKey] = .string(operation)
        try await journal.append(kind: kind, source: source, actor: actor, action: action, outcome: Self.startedOutcome, detail: .object(detail))
        return operation
    }

    /// An operation that started and never ended.
    public struct InterruptedOperation: Sendable, Codable, Equatable {
        public var kind: String
        public var source: String?
        public var actor: String
        public var action: String
        public var operation: String
        public var startedAt: Date
    }

    /// What the start found of the process before it.
    public struct StartRecovery: Sendable, Codable, Equatable {
        /// The previous process started and never journaled its stop (killed, crashed, power lost).
        public var uncleanStop: Bool
        public var previousStart: Date?
        public var interrupted: [InterruptedOperation]
    }

    /// How far back the start looks for unfinished operations.
    static let recoveryWindow = 20_000

    /// Run once at start, after this process journaled its own start: journals an unclean stop of
    /// the process before and each operation it left unfinished (an `interrupted` end, so the next
    /// start does not report it again). An interrupted `reconcile --apply` may have changed part of
    /// the DR side: it is recorded as a failed check, so the gate fails until a new check passes.
    @discardableResult
    public func recoverFromPreviousRun() async throws -> StartRecovery {
        let entries = try await journal.recent(limit: Self.recoveryWindow, source: nil, kind: nil)  // newest first
        let starts = entries.filter { $0.kind == "service" && $0.action == "start" }
        guard let current = starts.first else { return StartRecovery(uncleanStop: false, previousStart: nil, interrupted: []) }
        let previous = starts.dropFirst().first
        let unclean = previous.map { previous in
            !entries.contains { $0.kind == "service" && $0.action == "stop" && $0.id > previous.id && $0.id < current.id }
        } ?? false

        // Ends written at any time count (a previous start may have closed an operation already).
        var ended: Set<String> = []
        for entry in entries {
            if entry.kind == "cutover", entry.outcome != "running", case let .string(id)? = entry.detail?["id"] { ended.insert(id) }
            if entry.outcome != Self.startedOutcome, case let .string(operation)? = entry.detail?[Self.operationKey] { ended.insert(operation) }
        }
        var interrupted: [InterruptedOperation] = []
        for entry in entries.reversed() where entry.id < current.id {
            let operation: String?
            if entry.kind == "cutover", entry.outcome == "running", case let .string(id)? = entry.detail?["id"] {
                operation = id
            } else if entry.outcome == Self.startedOutcome, case let .string(id)? = entry.detail?[Self.operationKey] {
                operation = id
            } else {
                operation = nil
            }
            guard let operation, !ended.contains(operation) else { continue }
            interrupted.append(InterruptedOperation(kind: entry.kind, source: entry.source, actor: entry.actor, action: entry.action,
                                                    operation: operation, startedAt: entry.time))
        }
        let recovery = StartRecovery(uncleanStop: unclean, previousStart: previous?.time, interrupted: interrupted)
        guard unclean || !interrupted.isEmpty else { return recovery }

        try await journal.append(kind: "service", source: nil, actor: "syncd", action: unclean ? "unclean-stop" : "interrupted-operations",
                                 outcome: "recovered", detail: try JSONValue.from(recovery))
        for operation in interrupted {
            let key = operation.kind == "cutover" ? "id" : Self.operationKey
            try await journal.append(kind: operation.kind, source: operation.source, actor: "syncd", action: operation.action,
                                     outcome: Self.interruptedOutcome,
                                     detail: .object([key: .string(operation.operation), "started_at": .string(iso8601(operation.startedAt)),
                                                      "message": .string("never ended: the process running it stopped first")]))
            guard operation.kind == "reconcile", let name = operation.source, let monitor = monitor(named: name) else { continue }
            let summary = CheckSummary(
                finishedAt: Date(), ratio: nil, countRatio: nil,
                error: "a reconcile --apply started at \(iso8601(operation.startedAt)) was interrupted (the process stopped before it ended): the DR side may be partly changed; run a new check",
                scopes: [], partial: false, complete: false)
            try await journal.append(kind: "check", source: name, actor: "syncd", action: "verify", outcome: "error",
                                     detail: .object(["summary": try JSONValue.from(summary), Self.operationKey: .string(operation.operation)]))
            await monitor.recordCheck(summary)
        }
        let names = interrupted.map { "\($0.kind) \($0.action)\($0.source.map { " on \($0)" } ?? "")" }
        logger.warning("\(unclean ? "the previous syncd stopped uncleanly" : "operations were left unfinished")\(names.isEmpty ? "" : ": interrupted " + names.joined(separator: ", "))")
        return recovery
    }
}
