import Foundation
import PostgresClient
import SyncCore

/// Logical replication does not copy DDL: a column, a unique index or an enum label added on the
/// primary only shows at cutover. The checked tables' definitions are compared on both sides;
/// what breaks a cutover (a missing column, a type mismatch, a missing unique index or
/// constraint, a missing enum label) fails the gate, the rest is listed as a warning.
struct TableDefinition: Sendable, Equatable {
    struct Column: Sendable, Equatable {
        var type: String
        var notNull: Bool
        var defaultValue: String?
        var generated: String
    }
    /// Keyed by the names' bytes (identities), kept with their text for messages.
    var columns: [ByteKey: (name: String, column: Column)] = [:]
    /// Index definitions without their names ("UNIQUE USING btree (email)"), and whether unique.
    var indexes: [ByteKey: (text: String, unique: Bool)] = [:]
    /// Constraint definitions by kind letter (p, u, c, f, x).
    var constraints: [ByteKey: (text: String, kind: String)] = [:]
    /// Enum labels of the columns' enum types, "type: label".
    var enumLabels: [ByteKey: String] = [:]
    var triggers: [ByteKey: String] = [:]

    static func == (lhs: TableDefinition, rhs: TableDefinition) -> Bool {
        lhs.columns.keys == rhs.columns.keys && lhs.indexes.keys == rhs.indexes.keys && lhs.constraints.keys == rhs.constraints.keys
            && lhs.enumLabels.keys == rhs.enumLabels.keys && lhs.triggers.keys == rhs.triggers.keys
    }
}

struct SchemaFinding: Sendable, Equatable {
    var detail: String
    var breaking: Bool
}

extension TableDefinition {
    /// What the DR definition lacks or has differently, in the primary's terms.
    func findings(against dr: TableDefinition) -> [SchemaFinding] {
        var found: [SchemaFinding] = []
        for (id, (name, column)) in columns.sorted(by: { $0.key < $1.key }) {
            guard let copy = dr.columns[id]?.column else {
                found.append(SchemaFinding(detail: "column \(name) is missing on the DR side", breaking: true))
                continue
            }
            if !column.type.sameBytes(as: copy.type) {
                found.append(SchemaFinding(detail: "column \(name) is \(copy.type) on the DR side, \(column.type) on the primary", breaking: true))
            }
            if column.notNull != copy.notNull {
                found.append(SchemaFinding(detail: "column \(name) is \(column.notNull ? "NOT NULL" : "nullable") on the primary, \(copy.notNull ? "NOT NULL" : "nullable") on the DR side", breaking: false))
            }
            if column.defaultValue != copy.defaultValue {
                found.append(SchemaFinding(detail: "column \(name) defaults to \(column.defaultValue ?? "nothing") on the primary, \(copy.defaultValue ?? "nothing") on the DR side", breaking: false))
            }
            if column.generated != copy.generated {
                found.append(SchemaFinding(detail: "column \(name) is \(column.generated.isEmpty ? "not generated" : "generated") on the primary but not on the DR side", breaking: false))
            }
        }
        for (id, (name, _)) in dr.columns.sorted(by: { $0.key < $1.key }) where columns[id] == nil {
            found.append(SchemaFinding(detail: "column \(name) exists only on the DR side", breaking: false))
        }
        for (id, index) in indexes.sorted(by: { $0.key < $1.key }) where dr.indexes[id] == nil {
            found.append(SchemaFinding(detail: "\(index.unique ? "unique " : "")index \(index.text) is missing on the DR side", breaking: index.unique))
        }
        for (id, constraint) in constraints.sorted(by: { $0.key < $1.key }) where dr.constraints[id] == nil {
            let kind = ["p": "primary key", "u": "unique constraint", "c": "check constraint", "f": "foreign key", "x": "exclusion constraint"][constraint.kind] ?? "constraint"
            found.append(SchemaFinding(detail: "\(kind) \(constraint.text) is missing on the DR side", breaking: ["p", "u", "x"].contains(constraint.kind)))
        }
        for (id, label) in enumLabels.sorted(by: { $0.key < $1.key }) where dr.enumLabels[id] == nil {
            found.append(SchemaFinding(detail: "enum label \(label) is missing on the DR side", breaking: true))
        }
        for (id, trigger) in triggers.sorted(by: { $0.key < $1.key }) where dr.triggers[id] == nil {
            found.append(SchemaFinding(detail: "trigger \(trigger) is missing on the DR side", breaking: false))
        }
        return found
    }
}

extension PostgresSource {
    func tableDefinition(_ side: Side, schema: String, table: String) async throws -> TableDefinition? {
        let relation = try SQLText.quoteQualified("\(schema).\(table)")
        let exists = try await run(side, "SELECT to_regclass($1) IS NOT NULL AS present", [relation])
        guard exists.value(0, "present") == "t" || exists.value(0, "present") == "true" else { return nil }
        var definition = TableDefinition()
        let columns = try await run(side, """
            SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull::text AS not_null,
                   pg_get_expr(d.adbin, d.adrelid) AS default_value, a.attgenerated::text AS generated
            FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
            """, [relation])
        for row in columns.rows {
            guard let name = row[0], let type = row[1] else { continue }
            definition.columns[name.byteKey] = (name, .init(type: type, notNull: row[2] == "true", defaultValue: row[3], generated: row[4] ?? ""))
        }
        let indexes = try await run(side, """
            SELECT regexp_replace(pg_get_indexdef(i.indexrelid), '^CREATE (UNIQUE )?INDEX \\S+ ON \\S+ ', '') AS def, i.indisunique::text AS is_unique
            FROM pg_index i WHERE i.indrelid = $1::regclass
            """, [relation])
        for row in indexes.rows {
            guard let text = row[0] else { continue }
            let unique = row[1] == "true"
            definition.indexes[((unique ? "UNIQUE " : "") + text).byteKey] = (text, unique)
        }
        let constraints = try await run(side, "SELECT contype::text AS kind, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = $1::regclass",
                                        [relation])
        for row in constraints.rows {
            guard let kind = row[0], let text = row[1] else { continue }
            definition.constraints["\(kind) \(text)".byteKey] = (text, kind)
        }
        let labels = try await run(side, """
            SELECT t.typname || ': ' || e.enumlabel AS label
            FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid JOIN pg_enum e ON e.enumtypid = t.oid
            WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
            """, [relation])
        for row in labels.rows { if let label = row[0] { definition.enumLabels[label.byteKey] = label } }
        let triggers = try await run(side, "SELECT tgname FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal", [relation])
        for row in triggers.rows { if let name = row[0] { definition.triggers[name.byteKey] = name } }
        return definition
    }

    /// Every checked table's definition on both sides: breaking differences as blockers, the rest
    /// as warnings; each one a diff of kind schema.
    func compareSchemas(_ tables: [String]) async throws -> (diffs: [Diff], blockers: [String], warnings: [String]) {
        var diffs: [Diff] = []
        var blockers: [String] = []
        var warnings: [String] = []
        for table in tables {
            let parts = table.split(separator: ".", maxSplits: 1).map(String.init)
            guard parts.count == 2, let primary = try await tableDefinition(.primary, schema: parts[0], table: parts[1]) else { continue }
            guard let dr = try await tableDefinition(.dr, schema: parts[0], table: parts[1]) else { continue }  // reported by the check itself
            for finding in primary.findings(against: dr) {
                let text = "\(DisplayText.escape(table)): \(finding.detail)"
                diffs.append(Diff(table: table, key: .object(["table": .string(table)]), kind: .schema,
                                  detail: finding.detail + (finding.breaking ? "" : " (warning)")))
                if finding.breaking { blockers.append("schema of \(text)") } else { warnings.append("schema of \(text)") }
            }
        }
        return (diffs, blockers, warnings)
    }
}
