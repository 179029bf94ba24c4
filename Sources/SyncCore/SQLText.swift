import Foundation

/// SQL text helpers shared by the SQL-speaking adapters. Values always travel as bind parameters;
/// only identifiers (which cannot be parameters) are ever spliced into SQL, and only through here.
public enum SQLText {
    public struct InvalidIdentifier: Error, CustomStringConvertible {
        public let identifier: String
        public var description: String { "invalid SQL identifier \(identifier.debugDescription): it is empty or contains a NUL byte" }
    }

    /// Quotes a string literal for the utility statements that take no parameters
    /// (assumes standard_conforming_strings = on, PostgreSQL's default since 9.1).
    public static func quoteLiteral(_ value: String) throws -> String {
        guard !value.contains("\0") else { throw InvalidIdentifier(identifier: value) }
        return "'" + value.replacingOccurrences(of: "'", with: "''") + "'"
    }

    /// Quotes an identifier the way PostgreSQL (and the SQL standard) expects: wrapped in double
    /// quotes with embedded double quotes doubled, so any name is safe and case is preserved.
    public static func quoteIdentifier(_ identifier: String) throws -> String {
        guard !identifier.isEmpty, !identifier.contains("\0") else { throw InvalidIdentifier(identifier: identifier) }
        return "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// `schema.name` as configured (an unqualified name is in `defaultSchema`), each part quoted.
    public static func quoteQualified(_ name: String, defaultSchema: String = "public") throws -> String {
        let parts = name.split(separator: ".", maxSplits: 1).map(String.init)
        return try (parts.count == 2 ? parts : [defaultSchema] + parts).map(quoteIdentifier).joined(separator: ".")
    }
}
