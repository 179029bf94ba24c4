import Foundation
import PostgresClient
import SyncCore

/// What a check of one table leaves out or normalises, as the operator declared it
/// (`table_rules: {schema.table: {exclude_columns, where, float_digits, timestamp_precision}}`).
/// Recorded in the result, so a verdict says what was compared.
public struct TableRule: Sendable, Equatable {
    public var table: String
    public var excludeColumns: [String]
    /// A row filter applied on both sides inside the check's snapshot. The operator's SQL: it must
    /// be free of side effects (it is checked with EXPLAIN, never run on its own).
    public var rowFilter: String?
    /// Floats compared rounded to this many decimal digits.
    public var floatDigits: Int?
    /// Timestamps (and times) compared truncated to this unit (date_trunc's words).
    public var timestampPrecision: String?

    public static let precisions = ["millisecond", "second", "minute", "hour", "day"]

    public init(table: String, excludeColumns: [String] = [], rowFilter: String? = nil, floatDigits: Int? = nil, timestampPrecision: String? = nil) {
        self.table = table
        self.excludeColumns = excludeColumns
        self.rowFilter = rowFilter
        self.floatDigits = floatDigits
        self.timestampPrecision = timestampPrecision
    }

    static func read(_ reader: ConfigReader, _ at: ConfigNode) throws -> [TableRule] {
        var rules: [TableRule] = []
        for (table, node) in try reader.mapping(at, allowed: nil).sorted(by: { $0.key < $1.key }) {
            guard table.split(separator: ".").count == 2 else { throw reader.fail(node, "name the table as schema.table, got '\(table)'") }
            let map = try reader.mapping(node, allowed: ["exclude_columns", "where", "float_digits", "timestamp_precision"])
            var rule = TableRule(table: table)
            rule.excludeColumns = try map["exclude_columns"].map { try reader.stringList($0) } ?? []
            rule.rowFilter = try map["where"].map(reader.string)
            rule.floatDigits = try map["float_digits"].map { try reader.int($0, range: 0...15) }
            if let precision = map["timestamp_precision"] {
                rule.timestampPrecision = try reader.string(precision)
                guard precisions.contains(rule.timestampPrecision!) else {
                    throw reader.fail(precision, "expected one of \(precisions.joined(separator: ", ")), got '\(rule.timestampPrecision!)'")
                }
            }
            rules.append(rule)
        }
        return rules
    }

    /// The columns as the check reads them, and the note that says what was left out or normalised.
    /// `validate`: the primary's columns must have every excluded column, and none in the key.
    func apply(to columns: [ColumnInfo], validate: Bool = true) throws -> (columns: [ColumnInfo], note: String?) {
        for name in excludeColumns where validate {
            guard let column = columns.first(where: { $0.name.sameBytes(as: name) }) else {
                throw SyncError.invalidState("table_rules.\(table).exclude_columns: there is no column '\(name)' on the primary")
            }
            guard column.keyPosition == nil else {
                throw SyncError.invalidState("table_rules.\(table).exclude_columns: '\(name)' is part of the primary key, which matches the rows; it cannot be left out")
            }
        }
        var kept = columns.filter { column in !excludeColumns.contains { $0.sameBytes(as: column.name) } }
        var rounded: [String] = []
        var truncated: [String] = []
        for index in kept.indices where kept[index].keyPosition == nil {
            let name = try SQLText.quoteIdentifier(kept[index].name)
            if let digits = floatDigits, ["float4", "float8"].contains(kept[index].typeName) {
                kept[index].expression = "round(\(name)::numeric, \(digits))"
                kept[index].typeName = "numeric"
                kept[index].type = "numeric"
                rounded.append(kept[index].name)
            }
            if let unit = timestampPrecision, ["timestamp", "timestamptz"].contains(kept[index].typeName) {
                kept[index].expression = "date_trunc('\(unit)', \(name))"
                truncated.append(kept[index].name)
            }
        }
        var said: [String] = []
        if !excludeColumns.isEmpty { said.append("columns \(excludeColumns.joined(separator: ", ")) left out") }
        if let rowFilter { said.append("only rows where \(rowFilter)") }
        if !rounded.isEmpty { said.append("\(rounded.joined(separator: ", ")) rounded to \(floatDigits ?? 0) decimal digit(s)") }
        if !truncated.isEmpty { said.append("\(truncated.joined(separator: ", ")) truncated to the \(timestampPrecision ?? "")") }
        return (kept, said.isEmpty ? nil : "\(table): compared as declared: " + said.joined(separator: "; "))
    }
}
