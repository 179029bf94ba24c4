import CHiredis
import CHiredisArena
import Foundation
import SyncCore

public struct RedisError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable {
        /// The connection is unusable (refused, reset, timed out); it must be reopened.
        case connection
        /// The server answered with an error reply (WRONGTYPE, NOAUTH, READONLY, ...).
        case server
        /// The reply did not have the shape the command promises.
        case protocolViolation
    }
    public var kind: Kind
    public var message: String

    package init(kind: Kind, message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
