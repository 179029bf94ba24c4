import CHiredis
import CHiredisArena
import Foundation
import SyncCore

/// One command: its arguments as raw bytes (Redis keys and values are binary-safe).
public struct RedisCommand: Sendable {
    public var arguments: [[UInt8]]

    public init(_ arguments: [[UInt8]]) { self.arguments = arguments }

    public init(_ words: String...) { arguments = words.map { Array($0.utf8) } }

    public init(_ words: [String]) {
        arguments = words.map { Array($0.utf8) }
    }
}
