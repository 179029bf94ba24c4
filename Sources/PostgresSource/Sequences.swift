import Foundation
import PostgresClient
import SyncCore

/// Logical replication copies rows, not sequences: after a promotion the DR side would hand out
/// ids the primary already used, and inserts fail. Every sequence of the checked schemas is
/// compared; one the DR side lacks or is behind on fails the gate by itself (it is not a row, so
/// it stays outside the ratio).
struct SequencePosition: Sendable, Equatable {
    var name: String
    /// The last value handed out (start - increment when none was yet).
    var value: Int64
    var increment: Int64

    /// The columns of pg_sequences that make one: name, value and increment as text.
    static let columns = """
        schemaname || '.' || sequencename AS name,
        coalesce(last_value, start_value - increment_by)::text AS value, increment_by::text AS increment
        """

    init?(_ row: [String?]) {
        guard row.count >= 3, let name = row[0], let value = row[1].flatMap({ Int64($0) }), let increment = row[2].flatMap({ Int64($0) }) else { return nil }
        self.name = name
        self.value = value
        self.increment = increment
    }

    /// Whether this copy would hand out values `primary` already handed out.
    func isBehind(_ primary: SequencePosition) -> Bool {
        primary.increment > 0 ? value < primary.value : value > primary.value
    }
}

extension PostgresSource {
    static let sequencesSQL = "SELECT \(SequencePosition.columns) FROM pg_sequences WHERE schemaname = ANY($1::text[]) ORDER BY 1"

    /// The schemas of the configured tables, or `schemas` when every table is checked.
    var checkedSchemas: [String] {
        guard let tables = options.tables else { return options.schemas }
        var seen: [String] = []
        for table in tables {
            let schema = table.split(separator: ".", maxSplits: 1).count == 2 ? String(table.split(separator: ".", maxSplits: 1)[0]) : "public"
            if !seen.contains(where: { $0.sameBytes(as: schema) }) { seen.append(schema) }
        }
        return seen
    }

    func sequences(_ side: Side) async throws -> [SequencePosition] {
        let schemas = "{" + checkedSchemas.map { "\"\($0.replacingOccurrences(of: "\"", with: "\\\""))\"" }.joined(separator: ",") + "}"
        return try await run(side, Self.sequencesSQL, [schemas]).rows.compactMap(SequencePosition.init)
    }

    /// The sequences the DR side lacks or is behind on, as diffs and the gate's reasons.
    func compareSequences() async throws -> (diffs: [Diff], reasons: [String]) {
        let primary = try await sequences(.primary)
        // Names are identities: compared as their bytes.
        let dr = Dictionary(try await sequences(.dr).map { ($0.name.byteKey, $0) }, uniquingKeysWith: { first, _ in first })
        var diffs: [Diff] = []
        var reasons: [String] = []
        for sequence in primary {
            let name = DisplayText.escape(sequence.name)
            guard let copy = dr[sequence.name.byteKey] else {
                diffs.append(Diff(table: sequence.name, key: .object(["sequence": .string(sequence.name)]), kind: .sequence,
                                  detail: "missing on the DR side (primary at \(sequence.value))"))
                reasons.append("sequence \(name) is missing on the DR side")
                continue
            }
            if copy.isBehind(sequence) {
                diffs.append(Diff(table: sequence.name, key: .object(["sequence": .string(sequence.name), "primary": .number(Double(sequence.value)),
                                                                      "dr": .number(Double(copy.value))]),
                                  kind: .sequence, detail: "DR at \(copy.value), primary at \(sequence.value)"))
                reasons.append("sequence \(name) is behind on the DR side (DR at \(copy.value), primary at \(sequence.value)): after promotion it would hand out ids the primary already used; syncctl reconcile sets it")
            }
        }
        return (diffs, reasons)
    }
}
