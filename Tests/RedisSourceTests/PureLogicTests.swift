import Foundation
import Testing
@testable import RedisClient
@testable import RedisSource
@testable import SyncCore

@Suite struct ReplicationInfoTests {
    let replicaText = """
        # Replication\r
        role:slave\r
        master_host:10.0.0.1\r
        master_port:6379\r
        master_link_status:up\r
        master_last_io_seconds_ago:3\r
        master_sync_in_progress:0\r
        slave_repl_offset:5000\r
        master_replid:abc\r
        master_repl_offset:5000\r
        """

    @Test func parsesAReplica() throws {
        let info = try ReplicationInfo(fields: parseInfo(replicaText))
        #expect(info.isReplica)
        #expect(info.masterHost == "10.0.0.1")
        #expect(info.masterPort == 6379)
        #expect(info.linkUp)
        #expect(info.lastIOSecondsAgo == 3)
        #expect(info.appliedOffset == 5000)
        #expect(!info.isParkedBySyncd)
    }

    @Test func aReplicaSizesKeysOnlyWhileAttachedAndWithinAMegabyteOfThePrimary() throws {
        let replica = try ReplicationInfo(fields: parseInfo(replicaText))
        func primary(at offset: Int64) throws -> ReplicationInfo {
            try ReplicationInfo(fields: parseInfo("role:master\r\nmaster_replid:abc\r\nmaster_repl_offset:\(offset)\r\n"))
        }
        #expect(RedisChecker.replicaMaySize(primary: try primary(at: 5000), replica: replica))
        #expect(RedisChecker.replicaMaySize(primary: try primary(at: 5000 + (1 << 20)), replica: replica))
        #expect(!RedisChecker.replicaMaySize(primary: try primary(at: 5001 + (1 << 20)), replica: replica), "too far behind")
        let down = try ReplicationInfo(fields: parseInfo(replicaText.replacingOccurrences(of: "master_link_status:up", with: "master_link_status:down")))
        #expect(!RedisChecker.replicaMaySize(primary: try primary(at: 5000), replica: down))
        let syncing = try ReplicationInfo(fields: parseInfo(replicaText.replacingOccurrences(of: "master_sync_in_progress:0", with: "master_sync_in_progress:1")))
        #expect(!RedisChecker.replicaMaySize(primary: try primary(at: 5000), replica: syncing))
        #expect(!RedisChecker.replicaMaySize(primary: try primary(at: 5000), replica: try primary(at: 5000)), "a master is no replica")
    }

    @Test func aReplicaOnPortZeroIsParkedBySyncd() throws {
        let parked = try ReplicationInfo(fields: parseInfo(replicaText.replacingOccurrences(of: "master_port:6379", with: "master_port:0")))
        #expect(parked.isParkedBySyncd)
    }

    @Test func parsesAPrimaryAndFindsTheDRReplica() throws {
        let text = """
            role:master
            connected_slaves:2
            slave0:ip=10.0.0.2,port=6380,state=online,offset=900,lag=1
            slave1:ip=10.0.0.3,port=6380,state=wait_bgsave,offset=0,lag=0
            master_replid:abc
            master_repl_offset:1000
            """
        let info = try ReplicationInfo(fields: parseInfo(text))
        #expect(!info.isReplica)
        #expect(info.masterReplOffset == 1000)
        #expect(info.replicas.count == 2)
        #expect(info.replica(port: 6380, host: "10.0.0.2")?.offset == 900)
        #expect(info.replica(port: 6380, host: "10.0.0.3")?.state == "wait_bgsave")
        #expect(info.replica(port: 6381, host: "10.0.0.2") == nil)
    }

    @Test func infoWithoutARoleIsAnError() {
        #expect(throws: RedisError.self) { try ReplicationInfo(fields: parseInfo("# Replication\nconnected_slaves:0")) }
    }
}

@Suite struct ValueDigestTests {
    func digest(_ type: RedisType, _ body: (inout DigestBuilder) -> Void) -> ValueDigest {
        var builder = DigestBuilder(type: type)
        body(&builder)
        return builder.finish()
    }

    @Test func setsAndHashesIgnoreElementOrder() {
        let a = digest(.set) { $0.addUnordered(Array("x".utf8)); $0.addUnordered(Array("y".utf8)) }
        let b = digest(.set) { $0.addUnordered(Array("y".utf8)); $0.addUnordered(Array("x".utf8)) }
        #expect(a == b)
        let h1 = digest(.hash) { $0.addUnordered(Array("f1".utf8), Array("v1".utf8)); $0.addUnordered(Array("f2".utf8), Array("v2".utf8)) }
        let h2 = digest(.hash) { $0.addUnordered(Array("f2".utf8), Array("v2".utf8)); $0.addUnordered(Array("f1".utf8), Array("v1".utf8)) }
        #expect(h1 == h2)
        let swapped = digest(.hash) { $0.addUnordered(Array("f1".utf8), Array("v2".utf8)); $0.addUnordered(Array("f2".utf8), Array("v1".utf8)) }
        #expect(h1 != swapped)
    }

    @Test func listsKeepOrderAndFramingSeparatesElements() {
        let ab = digest(.list) { $0.addOrdered(Array("a".utf8)); $0.addOrdered(Array("b".utf8)) }
        let ba = digest(.list) { $0.addOrdered(Array("b".utf8)); $0.addOrdered(Array("a".utf8)) }
        #expect(ab != ba)
        let split1 = digest(.list) { $0.addOrdered(Array("ab".utf8)); $0.addOrdered(Array("c".utf8)) }
        let split2 = digest(.list) { $0.addOrdered(Array("a".utf8)); $0.addOrdered(Array("bc".utf8)) }
        #expect(split1 != split2)
    }

    @Test func stringsReadInWindowsEqualOneRead() {
        let whole = digest(.string) { $0.addStringBytes(Array("hello world".utf8)) }
        let windows = digest(.string) { $0.addStringBytes(Array("hello ".utf8)); $0.addStringBytes(Array("world".utf8)) }
        #expect(whole == windows)
        #expect(whole != digest(.string) { $0.addStringBytes(Array("hello worle".utf8)) })
    }

    @Test func sortedSetScoresCompareAsNumbers() {
        let a = digest(.zset) { $0.addScored(member: Array("m".utf8), score: "1") }
        let b = digest(.zset) { $0.addScored(member: Array("m".utf8), score: "1.0") }
        let c = digest(.zset) { $0.addScored(member: Array("m".utf8), score: "1.5") }
        #expect(a == b)
        #expect(a != c)
    }

    @Test func theTypeIsPartOfTheDigest() {
        let set = digest(.set) { $0.addUnordered(Array("x".utf8)) }
        let hash = digest(.hash) { $0.addUnordered(Array("x".utf8)) }
        #expect(set != hash)
    }
}

@Suite struct KeyComparisonTests {
    let value = ValueDigest(type: .string, high: 1, low: 2, elements: 3)

    @Test func ttlWithinToleranceIsEqual() {
        #expect(ttlDifference(100_000, 99_000, tolerance: 2) == nil)
        #expect(ttlDifference(-1, -1, tolerance: 2) == nil)
        #expect(ttlDifference(100_000, 90_000, tolerance: 2) != nil)
        #expect(ttlDifference(-1, 5000, tolerance: 2)?.contains("none on the primary") == true)
    }

    @Test func verdictsNameKindAndDetail() {
        let present = KeyReading.value(value, ttl: -1)
        #expect(compareReadings(.absent, .absent, ttlTolerance: 2) == nil)
        #expect(compareReadings(present, .absent, ttlTolerance: 2)?.kind == .missing)
        #expect(compareReadings(.absent, present, ttlTolerance: 2)?.kind == .extra)
        let list = KeyReading.value(ValueDigest(type: .list, high: 1, low: 2, elements: 3), ttl: -1)
        #expect(compareReadings(present, list, ttlTolerance: 2)?.detail == "type: string vs list")
        #expect(compareReadings(present, .unreadable("boom"), ttlTolerance: 2)?.detail.contains("boom") == true)
        let other = KeyReading.value(ValueDigest(type: .string, high: 9, low: 2, elements: 3), ttl: -1)
        #expect(compareReadings(present, other, ttlTolerance: 2) == KeyVerdict(kind: .changed, detail: "value"))
        let expiring = KeyReading.value(value, ttl: 60_000)
        #expect(compareReadings(present, expiring, ttlTolerance: 2)?.detail.hasPrefix("ttl") == true)
        #expect(compareReadings(present, present, ttlTolerance: 2) == nil)
    }

    @Test func keysRoundTripThroughJSONIncludingBinaryOnes() {
        let text = Array("user:42".utf8)
        #expect(keyJSON(text) == .object(["key": .string("user:42")]))
        #expect(keyBytes(keyJSON(text)) == text)
        let binary: [UInt8] = [0xff, 0x00, 0x41]
        guard case let .object(object) = keyJSON(binary) else { Issue.record("not an object"); return }
        #expect(object["key_base64"] != nil)
        #expect(keyBytes(keyJSON(binary)) == binary)
    }
}

@Suite struct SnapshotTests {
    @Test func serializedValuesCompareWithoutTheirVersionAndChecksumTrailer() {
        let value: [UInt8] = [0, 5, 104, 101, 108, 108, 111]
        let redis70 = value + [10, 0] + Array(repeating: 1, count: 8)
        let redis72 = value + [11, 0] + Array(repeating: 2, count: 8)
        #expect(Snapshot.sameBody(redis70, redis72))
        #expect(!Snapshot.sameBody([0, 5, 104, 101, 108, 108, 112] + [10, 0] + Array(repeating: 1, count: 8), redis70))
        #expect(!Snapshot.sameBody(redis70, redis70 + [0]), "different lengths")
        #expect(!Snapshot.sameBody([1, 2, 3], [1, 2, 4]), "short payloads compare whole")
        #expect(Snapshot.sameBody([1, 2, 3], [1, 2, 3]))
    }
}

@Suite struct RESPBatchTests {
    @Test func encodesCommandsAsRESPArraysOfBulkStrings() {
        var batch = RESPBatch()
        batch.append(RedisCommand("SET", "k", ""))
        batch.append(RedisCommand([Array("GET".utf8), [0, 13, 10]]))
        #expect(String(decoding: batch.bytes, as: UTF8.self) == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n*2\r\n$3\r\nGET\r\n$3\r\n\u{0}\r\n\r\n")
        #expect(batch.count == 2)
    }

    @Test func keyedTemplatesMatchTheCommandsTheyStandFor() {
        let key = Array("user:1".utf8)
        let cases: [(RESPBatch.KeyedTemplate, [String])] = [
            (KeyReader.pttl, ["PTTL"]), (KeyReader.dump, ["DUMP"]), (KeyReader.memoryUsage, ["MEMORY", "USAGE", "user:1", "SAMPLES", "1"]),
        ]
        for (template, words) in cases {
            var fromTemplate = RESPBatch()
            fromTemplate.append(template, key: key)
            var fromCommand = RESPBatch()
            fromCommand.append(RedisCommand(words.count == 1 ? words + ["user:1"] : words))
            #expect(fromTemplate.bytes == fromCommand.bytes, "\(words)")
        }
        var long = RESPBatch()
        long.append(RedisCommand([Array("X".utf8), Array(repeating: 65, count: 1234)]))
        #expect(String(decoding: long.bytes.prefix(16), as: UTF8.self) == "*2\r\n$1\r\nX\r\n$1234")
        // Lengths at each digit-count boundary.
        for length in [0, 9, 10, 99, 100, 101] {
            var batch = RESPBatch()
            batch.append(RedisCommand([Array(repeating: 66, count: length)]))
            let expected = "*1\r\n$\(length)\r\n" + String(repeating: "B", count: length) + "\r\n"
            #expect(String(decoding: batch.bytes, as: UTF8.self) == expected, "length \(length)")
        }
    }

    @Test func keyListsHoldBinaryAndEmptyKeysAndEncodeAsTheCommandsTheyStandFor() {
        let keys: [[UInt8]] = [Array("a".utf8), [], [0, 13, 10, 255], Array(repeating: 120, count: 300)]
        let list = KeyList(keys)
        #expect(list.count == 4)
        #expect(list.arrays == keys)
        #expect(list[2] == [0, 13, 10, 255])
        var visited: [[UInt8]] = []
        list.forEach { visited.append(Array($0)) }
        #expect(visited == keys)
        var picked = KeyList()
        picked.append(3, of: list)
        picked.append(1, of: list)
        #expect(picked.arrays == [keys[3], keys[1]])

        var exists = RESPBatch()
        exists.append("EXISTS", keys: list)
        var expected = RESPBatch()
        expected.append(RedisCommand([Array("EXISTS".utf8)] + keys))
        #expect(exists.bytes == expected.bytes)
        #expect(exists.count == 1)

        var snapshots = RESPBatch()
        KeyReader.appendSnapshots(of: list, to: &snapshots)
        var oneByOne = RESPBatch()
        for key in keys {
            oneByOne.append(RedisCommand([Array("PTTL".utf8), key]))
            oneByOne.append(RedisCommand([Array("DUMP".utf8), key]))
        }
        #expect(snapshots.bytes == oneByOne.bytes)
        #expect(snapshots.count == 8)
    }
}

@Suite struct RDBPayloadTests {
    @Test func lzfLiteralRunsAndOverlappingBackReferencesExpand() {
        // "abc" as literals, then 6 bytes copied from 3 back (overlapping): "abcabcabc".
        let input: [UInt8] = [2, 97, 98, 99, 0x80, 2]
        let output = input.withUnsafeBytes { RDBPayload.Reader.lzf($0, expanded: 9) }
        #expect(output.map { String(decoding: $0, as: UTF8.self) } == "abcabcabc")
        #expect(input.withUnsafeBytes { RDBPayload.Reader.lzf($0, expanded: 8) } == nil, "a wrong length is refused")
        #expect([UInt8]([0x80, 9]).withUnsafeBytes { RDBPayload.Reader.lzf($0, expanded: 2) } == nil, "a reference before the start is refused")
    }

    @Test func truncatedOrUnknownPayloadsAreNotParsed() {
        let trailer = [UInt8](repeating: 0, count: 10)
        // A set of two raw members, "a" and "b".
        let set: [UInt8] = [2, 2, 1, 97, 1, 98] + trailer
        #expect(RDBPayload.digest(set)?.elements == 2)
        #expect(RDBPayload.digest([2, 3, 1, 97, 1, 98] + trailer) == nil, "one member short")
        #expect(RDBPayload.digest([2, 2, 1, 97, 1, 98, 0] + trailer) == nil, "bytes left over")
        #expect(RDBPayload.digest([0, 1, 97] + trailer) == nil, "strings compare by bytes")
        // Integer-encoded members are their decimal text: -2 (int8) equals the raw member "-2".
        let encoded: [UInt8] = [2, 1, 0xC0, 0xFE] + trailer
        let raw: [UInt8] = [2, 1, 2, 45, 50] + trailer
        #expect(RDBPayload.digest(encoded) == RDBPayload.digest(raw))
    }

    @Test func sortedElementsEqualExactlyWhenTheValuesAre() {
        let trailer = [UInt8](repeating: 0, count: 10)
        func set(_ members: [[UInt8]]) -> [UInt8] {
            var payload: [UInt8] = [2, UInt8(members.count)]
            for member in members { payload += [UInt8(member.count)] + member }
            return payload + trailer
        }
        func hash(_ pairs: [(String, String)]) -> [UInt8] {
            var payload: [UInt8] = [4, UInt8(pairs.count)]
            for (field, value) in pairs {
                for part in [Array(field.utf8), Array(value.utf8)] { payload += [UInt8(part.count)] + part }
            }
            return payload + trailer
        }
        let abc = set([[97], [98], [99]])
        #expect(RDBPayload.sortedElements(abc) == RDBPayload.sortedElements(set([[99], [97], [98]])), "hash order does not matter")
        #expect(RDBPayload.sortedElements(abc) != RDBPayload.sortedElements(set([[97], [98], [100]])))
        #expect(RDBPayload.sortedElements(abc) != RDBPayload.sortedElements(set([[97], [98]])))
        // An integer-encoded member equals its decimal text.
        #expect(RDBPayload.sortedElements([2, 2, 0xC0, 0xFE, 1, 97] + trailer) == RDBPayload.sortedElements(set([[97], [45, 50]])))
        // A hash's fields and values cannot run into each other, and a set never equals a hash.
        #expect(RDBPayload.sortedElements(hash([("ab", "c"), ("x", "y")])) == RDBPayload.sortedElements(hash([("x", "y"), ("ab", "c")])))
        #expect(RDBPayload.sortedElements(hash([("ab", "c")])) != RDBPayload.sortedElements(hash([("a", "bc")])))
        #expect(RDBPayload.sortedElements(hash([("ab", "c")])) != RDBPayload.sortedElements(hash([("ab", "d")])))
        #expect(RDBPayload.sortedElements(set([[97]])) != RDBPayload.sortedElements(hash([("a", "")])))
        #expect(RDBPayload.sortedElements([2, 2, 1, 97] + trailer) == nil, "truncated")
        #expect(RDBPayload.sortedElements([0, 1, 97] + trailer) == nil, "not a set or hash")
    }
}
