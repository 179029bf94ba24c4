import Foundation
import Testing
import TestSupport
@testable import SyncCore

/// A kind SyncCore has never heard of: its descriptor alone makes it a valid config entry.
private struct ShardOptions: KindOptions, Equatable {
    var shards: Int
}

private let shardKind = SourceDescriptor(
    kind: SourceKind(rawValue: "sharded"),
    defaults: SourceDefaults(pollIntervalSeconds: 3, pollTimeoutSeconds: 7, lagBudgetSeconds: 11),
    optionKeys: ["shards"],
    readEndpoint: { reader, node in try reader.endpoint(node, defaultPort: 7000, extra: []).0 },
    readOptions: { reader, section in
        ShardOptions(shards: try reader.int(try reader.required(section.keys, "shards", in: section.node), range: 1...64))
    },
    makeAdapter: { ScriptedAdapter(name: $0.name) })

private func parse(_ source: String) throws -> SyncdConfig {
    let yaml = """
    listen: 127.0.0.1:8080
    tokens: {read: {env: R}, admin: {env: A}}
    journal: /tmp/j.sqlite
    sources:
      - name: cache
    \(source)
    """
    return try ConfigLoader.parse(yaml: yaml, file: "t.yaml", baseDirectory: "/tmp", environment: ["R": "read-token-0123456789", "A": "admin-token-0123456789"], kinds: [shardKind])
}

@Suite struct DescriptorTests {
    @Test func aNewKindNeedsOnlyItsDescriptor() throws {
        let source = try #require(try parse("""
            kind: sharded
            primary: {host: a}
            dr: {host: b, port: 7001}
            shards: 4
        """).sources.first)
        #expect(source.kind.rawValue == "sharded")
        #expect(source.options as? ShardOptions == ShardOptions(shards: 4))
        #expect(source.primary.port == 7000 && source.dr.port == 7001)
        #expect(source.pollIntervalSeconds == 3 && source.pollTimeoutSeconds == 7 && source.policy.lagBudgetSeconds == 11)
        #expect(source.policy.sampleMaxAgeSeconds == 10, "freshness is one interval plus poll_timeout")
    }

    @Test func theKindsOwnKeysAreCheckedWithFileLineAndKey() throws {
        #expect(throws: ConfigError(file: "t.yaml", line: 9, keyPath: "sources[0].shards", message: "0 is out of range 1...64")) {
            try parse("""
                kind: sharded
                primary: {host: a}
                dr: {host: b}
                shards: 0
            """)
        }
        #expect(throws: ConfigError(file: "t.yaml", line: 5, keyPath: "sources[0]", message: "missing required key 'shards'")) {
            try parse("""
                kind: sharded
                primary: {host: a}
                dr: {host: b}
            """)
        }
    }

    @Test func anotherKindsKeysAndUnknownKindsAreRefused() throws {
        do {
            _ = try parse("    kind: sharded\n    primary: {host: a}\n    dr: {host: b}\n    shards: 2\n    tables: [t]")
            Issue.record("a key of no registered kind was accepted")
        } catch let error as ConfigError {
            #expect(error.keyPath == "sources[0].tables")
            #expect(error.message.contains("unknown key 'tables'") && error.message.contains("shards"), "\(error)")
        }
        do {
            _ = try parse("    kind: postgres\n    primary: {host: a}\n    dr: {host: b}")
            Issue.record("an unregistered kind was accepted")
        } catch let error as ConfigError {
            #expect(error.message == "unknown kind 'postgres' (known: sharded)", "\(error)")
        }
    }

    @Test func optionsTakePartInEquality() {
        let endpoint = EndpointConfig(host: "h", port: 1)
        let policy = GatePolicy(lagBudgetSeconds: 1, checkMaxAgeSeconds: 1, ratioThreshold: 1, sampleMaxAgeSeconds: 1)
        func config(_ shards: Int?) -> SourceConfig {
            SourceConfig(name: "c", kind: shardKind.kind, primary: endpoint, dr: endpoint, pollIntervalSeconds: 1, pollTimeoutSeconds: 1,
                         policy: policy, options: shards.map { ShardOptions(shards: $0) })
        }
        #expect(config(2) == config(2))
        #expect(config(2) != config(3))
        #expect(config(2) != config(nil))
        #expect(EndpointConfig(host: "h", port: 1, options: ShardOptions(shards: 1)) != endpoint)
    }
}
