import CLibPQ
import Foundation
import SyncCore

/// Rows of a small result, copied out of libpq as text (the PGresult is freed before returning).
public struct PGRows: Sendable {
    public let columns: [String]
    public let rows: [[String?]]

    public var count: Int { rows.count }

    public func value(_ row: Int, _ column: String) -> String? {
        guard row < rows.count, let index = columns.firstIndex(of: column) else { return nil }
        return rows[row][index]
    }
}
