import Foundation

/// One batch of a reconciliation: the statements it runs on the DR side and the keys it touches.
public struct ReconcileBatch: Sendable, Codable, Equatable {
    public var table: String
    public var number: Int
    /// Keys to copy from the primary (missing or changed on the DR side).
    public var upsertKeys: [JSONValue]
    /// Keys to delete from the DR side (extra there).
    public var deleteKeys: [JSONValue]
    /// The statements, with `$n` parameters; keys are bound, row values are read from the primary at apply time.
    public var statements: [String]
    /// A sequence this batch moves up to the primary's position (no keys); nil for rows.
    public var sequence: String?

    public init(table: String, number: Int, upsertKeys: [JSONValue], deleteKeys: [JSONValue], statements: [String]) {
        self.table = table
        self.number = number
        self.upsertKeys = upsertKeys
        self.deleteKeys = deleteKeys
        self.statements = statements
    }
}

/// The exact work a reconciliation will do, built from a check's differences. Printing it changes nothing.
public struct ReconcilePlan: Sendable, Codable, Equatable {
    public var source: String
    /// When the check this plan comes from finished.
    public var basedOnCheck: Date
    public var upserts: Int
    public var deletes: Int
    public var batches: [ReconcileBatch]
    public var notes: [String]
    /// The source's own words for scopes and items (text output only).
    public var words: SourceWords?

    public init(source: String, basedOnCheck: Date, batches: [ReconcileBatch], notes: [String] = [], words: SourceWords? = nil) {
        self.words = words
        self.source = source
        self.basedOnCheck = basedOnCheck
        self.batches = batches
        self.notes = notes
        upserts = batches.reduce(0) { $0 + $1.upsertKeys.count }
        deletes = batches.reduce(0) { $0 + $1.deleteKeys.count }
    }
}

public struct ReconcileOutcome: Sendable, Codable, Equatable {
    public var source: String
    public var batchesApplied: Int
    public var rowsUpserted: Int
    public var rowsDeleted: Int
    /// Keys touched that still differ after applying (0 when the DR side converged).
    public var stillDiffering: Int
    public var durationSeconds: Double
    public var status: GateStatus
    /// Sequences moved up to the primary's position (nil where the source has none).
    public var sequencesSet: Int?

    public init(source: String, batchesApplied: Int, rowsUpserted: Int, rowsDeleted: Int, stillDiffering: Int, durationSeconds: Double) {
        self.source = source
        self.batchesApplied = batchesApplied
        self.rowsUpserted = rowsUpserted
        self.rowsDeleted = rowsDeleted
        self.stillDiffering = stillDiffering
        self.durationSeconds = durationSeconds
        status = stillDiffering == 0 ? .pass : .fail
    }
}
