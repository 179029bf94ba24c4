import Foundation
import PostgresJournal
import SQLiteJournal
import SyncCore

/// Opens the journal the config names: the SQLite file, or the shared PostgreSQL database (its
/// schema created or migrated first).
public enum JournalStores {
    public static func open(_ location: JournalLocation) async throws -> any JournalStore {
        switch location {
        case let .sqlite(path):
            return try SQLiteJournal(path: path)
        case let .postgres(endpoint, sslmode):
            let journal = PostgresJournal(endpoint: endpoint, sslmode: sslmode)
            try await journal.prepare()
            return journal
        }
    }
}
