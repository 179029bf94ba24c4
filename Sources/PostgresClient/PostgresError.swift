import CLibPQ
import Foundation
import SyncCore

public struct PostgresError: Error, Sendable, CustomStringConvertible {
    /// `timeout`: no answer by the call's deadline; `cancelled`: the calling task was cancelled.
    /// Either way the statement was cancelled and the connection abandoned.
    public enum Kind: Sendable { case connection, query, timeout, cancelled }
    public var kind: Kind
    public var message: String
    /// The five-character SQLSTATE, when the server sent one.
    public var sqlState: String?

    public var description: String {
        sqlState.map { "\(message) (SQLSTATE \($0))" } ?? message
    }
}
