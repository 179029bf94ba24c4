import Foundation
import Testing
import TestSupport
@testable import RedisClient
@testable import RedisSource

extension RedisServers {
    /// Replies are built in the connection's arena (not one heap block each): every reply shape must
    /// read back intact, across pipelines far bigger than one arena chunk.
    @Suite struct RedisConnectionTests {
        @Test func everyReplyShapeReadsBackIntactFromTheArena() async throws {
            let connection = try await TestRedis.connect(TestRedis.independent)
            try await connection.run("FLUSHDB")
            let big = String(repeating: "0123456789abcdef", count: 3 * 65536) // 3 MiB: many chunks
            try await connection.run("SET", "arena:big", big)
            try await connection.run("RPUSH", "arena:list", "a", "", "c")
            try await connection.run("XADD", "arena:stream", "1-1", "f", "v")
            try await connection.run("XADD", "arena:stream", "2-1", "g", "w", "h", "x")
            let replies = try await connection.pipeline([
                RedisCommand("GET", "arena:big"),
                RedisCommand("XRANGE", "arena:stream", "-", "+"),
                RedisCommand("GET", "arena:missing"),
                RedisCommand("INCRBY", "arena:n", "-42"),
                RedisCommand("HGET", "arena:list", "f"),
                RedisCommand("PING"),
                RedisCommand("LRANGE", "arena:list", "0", "-1"),
                RedisCommand("LRANGE", "arena:missing", "0", "-1"),
            ]) { replies in try (0..<8).map { _ in try replies.next().value } }
            #expect(replies[0] == .string(Array(big.utf8)))
            #expect(replies[1] == .array([
                .array([.string(Array("1-1".utf8)), .array([.string(Array("f".utf8)), .string(Array("v".utf8))])]),
                .array([.string(Array("2-1".utf8)), .array(["g", "w", "h", "x"].map { .string(Array($0.utf8)) })]),
            ]))
            #expect(replies[2] == .null)
            #expect(replies[3] == .integer(-42))
            guard case let .error(message) = replies[4] else { Issue.record("expected an error, got \(replies[4])"); return }
            #expect(message.hasPrefix("WRONGTYPE"))
            #expect(replies[5] == .status("PONG"))
            #expect(replies[6] == .array([.string(Array("a".utf8)), .string([]), .string(Array("c".utf8))]))
            #expect(replies[7] == .array([]))
            // The 3 MiB reply's chunks are let go once the pipeline is done.
            #expect(try await connection.replyArenaBytes() <= 1 << 20)
        }

        /// A write to a connection the server closed (a failover, a restart) must break that
        /// connection, not kill the process with SIGPIPE: a CI run died that way in a failover test.
        @Test func aWriteToAConnectionTheServerClosedBreaksItWithoutKillingTheProcess() async throws {
            let victim = try await TestRedis.connect(TestRedis.independent)
            // signal() answers the disposition it replaces: ignored already, by the connection.
            let previous = signal(SIGPIPE, SIG_IGN)
            #expect(previous.map { unsafeBitCast($0, to: Int.self) } == 1, "SIGPIPE is ignored (SIG_IGN)")
            let id = try await victim.run("CLIENT", "ID")
            let admin = try await TestRedis.connect(TestRedis.independent)
            try await admin.run("CLIENT", "KILL", "ID", "\(id.integer ?? -1)")
            // A big pipeline fills the socket buffer, so a write lands after the server's close.
            let big = String(repeating: "x", count: 1 << 20)
            for _ in 0..<4 {
                let commands = (0..<8).map { RedisCommand("SET", "pipe:\($0)", big) }
                _ = try? await victim.pipeline(commands) { replies in try replies.next().errorMessage }
            }
            #expect(victim.isBroken)
        }

        @Test func aPipelineOfManySmallRepliesSpansChunksIntact() async throws {
            let connection = try await TestRedis.connect(TestRedis.independent)
            let count = 30_000
            let words = (0..<count).map { "word-\($0)-" + String(repeating: "x", count: $0 % 40) }
            let echoed = try await connection.pipeline(words.map { RedisCommand("ECHO", $0) }) { replies in
                try words.map { _ in try replies.next().value.text ?? "" }
            }
            #expect(echoed == words)
            // Unread replies are drained and the connection stays in step.
            let partial = try await connection.pipeline(words.prefix(1000).map { RedisCommand("ECHO", $0) }) { replies in
                try replies.next().value.text
            }
            #expect(partial == words[0])
            #expect(try await connection.run("ECHO", "after").text == "after")
        }

        @Test("cancelling a call that waits on the server interrupts it at once and retires the connection")
        func cancellingAWaitingCallInterruptsIt() async throws {
            let connection = try await TestRedis.connect(TestRedis.independent)
            let observer = try await TestRedis.connect(TestRedis.independent)
            let key = "cancel:never-pushed:\(UUID().uuidString)"
            // BLPOP holds the reply for 30 s (the command timeout is 15 s): only the cancel can end it sooner.
            let call = try await cancel(once: {
                (try await observer.run("CLIENT", "LIST").text ?? "").contains("cmd=blpop")
            }) {
                _ = try await connection.run("BLPOP", key, "30")
            }
            #expect(call.threwCancellation, "\(String(describing: call.error))")
            #expect(call.afterCancel < .seconds(2), "the cancelled call ran on for \(call.afterCancel)")
            #expect(connection.isBroken, "a connection whose reply was abandoned must not be reused")
            let blocked = try await eventually(timeout: .seconds(5)) {
                !(try await observer.run("CLIENT", "LIST").text ?? "").contains("cmd=blpop")
            }
            #expect(blocked, "the server should have dropped the blocked client")
            #expect(try await TestRedis.connect(TestRedis.independent).run("PING") == .status("PONG"))
        }
    }
}
