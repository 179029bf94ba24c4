import SyncCore

extension SourceWords {
    /// How PostgreSQL results read: tables of rows, compared in key-range segments.
    static let postgres = SourceWords.tables
}
