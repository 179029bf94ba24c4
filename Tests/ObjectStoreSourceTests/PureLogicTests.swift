import Foundation
import Testing
@testable import ObjectStoreSource
@testable import SyncCore

@Suite struct BucketComparisonTests {
    func entry(_ key: String, _ size: Int64, _ etag: String, _ seconds: Double = 0) -> ObjectEntry {
        ObjectEntry(key: key, size: size, etag: etag, lastModified: Date(timeIntervalSince1970: 1_000_000 + seconds))
    }

    @Test func everyKindIsSortedOut() {
        let primary: [ByteKey: ObjectEntry] = ["a": entry("a", 1, "x"), "b": entry("b", 2, "y"), "c": entry("c", 3, "z"), "d": entry("d", 4, "m-2", 10), "e": entry("e", 5, "n")]
        let dr: [ByteKey: ObjectEntry] = ["a": entry("a", 1, "x"), "b": entry("b", 9, "y"), "c": entry("c", 3, "q"), "d": entry("d", 4, "k", 5), "f": entry("f", 1, "o")]
        let comparison = BucketComparison.compare(primary: primary, dr: dr, collectSameSize: true)
        #expect(comparison.equal == 1)
        #expect(comparison.missing.map(\.key) == ["e"])
        #expect(comparison.changed.map(\.primary.key) == ["b", "c"])
        #expect(comparison.unverifiable.map(\.primary.key) == ["d"])
        #expect(comparison.extra.map(\.key) == ["f"])
        #expect(comparison.primaryCount == 5 && comparison.drCount == 5)
        #expect(comparison.sameSize == ["a", "c", "d"])
        // The multipart object's DR copy is older than the primary's write: still to replicate.
        #expect(comparison.backlog.map(\.key).sorted() == ["b", "c", "d", "e"])
        var newer = dr
        newer["d"] = entry("d", 4, "k", 20)
        #expect(BucketComparison.compare(primary: primary, dr: newer).backlog.map(\.key).sorted() == ["b", "c", "e"],
                "a copy made after the write carries its own part layout")
        #expect(comparison.differences.keys.sorted() == ["b", "c", "d", "e", "f"])
    }

    @Test func comparisonsOfDisjointRangesMerge() {
        var left = BucketComparison.compare(primary: ["a": entry("a", 1, "x")], dr: [:])
        left.merge(BucketComparison.compare(primary: ["b": entry("b", 1, "x")], dr: ["b": entry("b", 1, "x"), "c": entry("c", 1, "y")]))
        #expect(left.missing.map(\.key) == ["a"] && left.extra.map(\.key) == ["c"] && left.equal == 1)
        #expect(left.primaryCount == 2 && left.drCount == 2)
    }

    @Test func keyDifferencesSayWhatDiffers() {
        #expect(ObjectStoreSource.difference(primary: nil, dr: nil) == nil)
        #expect(ObjectStoreSource.difference(primary: entry("k", 1, "a"), dr: nil)?.kind == .missing)
        #expect(ObjectStoreSource.difference(primary: nil, dr: entry("k", 1, "a"))?.kind == .extra)
        #expect(ObjectStoreSource.difference(primary: entry("k", 1, "a"), dr: entry("k", 2, "a"))?.detail == "size 1 vs 2")
        #expect(ObjectStoreSource.difference(primary: entry("k", 1, "a"), dr: entry("k", 1, "b"))?.detail == "ETag a vs b")
        #expect(ObjectStoreSource.difference(primary: entry("k", 1, "a-3"), dr: entry("k", 1, "b"))?.detail.hasPrefix("multipart") == true)
        #expect(ObjectStoreSource.difference(primary: entry("k", 1, "a"), dr: entry("k", 1, "a")) == nil)
    }
}

@Suite struct S3RequestTests {
    func bucket(_ url: String, virtual: Bool = false) -> S3Bucket {
        var endpoint = EndpointConfig(host: "h", port: 80)
        endpoint.objectStore = ObjectStoreEndpoint(url: url, bucket: "media", virtualHost: virtual)
        return S3Bucket(endpoint: endpoint, label: "test", concurrency: 1)
    }

    @Test func pathStyleAndVirtualHostURLsEncodeKeysOnceAndSortTheQuery() {
        let path = bucket("http://127.0.0.1:8333")
        #expect(path.url(key: "photos/a b+c%.jpg") == "http://127.0.0.1:8333/media/photos/a%20b%2Bc%25.jpg")
        #expect(path.url(query: [("prefix", "x/y z"), ("list-type", "2"), ("continuation-token", "a=b")])
                == "http://127.0.0.1:8333/media?continuation-token=a%3Db&list-type=2&prefix=x%2Fy%20z")
        let virtual = bucket("https://s3.eu-west-1.amazonaws.com", virtual: true)
        #expect(virtual.url(key: "é/k") == "https://media.s3.eu-west-1.amazonaws.com/%C3%A9/k")
        #expect(virtual.url(query: [("list-type", "2")]) == "https://media.s3.eu-west-1.amazonaws.com/?list-type=2")
    }

    @Test func listingAndErrorDocumentsParse() throws {
        let listing = """
        <?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>media</Name><IsTruncated>true</IsTruncated>
        <Contents><Key>a&amp;b.txt</Key><ETag>&#34;abc&#34;</ETag><Size>12</Size><LastModified>2026-11-22T07:02:02.123Z</LastModified></Contents>
        <Contents><Key>c</Key><ETag>"d-2"</ETag><Size>0</Size><LastModified>2026-11-22T07:02:02Z</LastModified></Contents>
        <NextContinuationToken>tok</NextContinuationToken></ListBucketResult>
        """
        let parsed = try #require(S3XML.parse(Array(listing.utf8), record: "Contents"))
        #expect(parsed.records.count == 2)
        #expect(parsed.records[0]["Key"] == "a&b.txt" && parsed.records[0]["ETag"] == "\"abc\"")
        #expect(parsed.top["IsTruncated"] == "true" && parsed.top["NextContinuationToken"] == "tok")
        #expect(S3XML.date("2026-11-22T07:02:02Z") == ISO8601DateFormatter().date(from: "2026-11-22T07:02:02Z"))
        #expect(S3XML.date("1999-02-28T23:59:59Z") == ISO8601DateFormatter().date(from: "1999-02-28T23:59:59Z"))
        #expect(S3XML.date("2024-02-29T00:00:00Z")?.timeIntervalSince1970 == 1_709_164_800)
        #expect(abs((S3XML.date("2026-11-22T07:02:02.123Z")?.timeIntervalSince1970 ?? 0) - 1_795_330_922.123) < 1e-6)
        for bad in ["2026-11-22 07:02:02Z", "2026-13-22T07:02:02Z", "2026-11-22T07:02:02", "2026-11-22T07:02:02.Z", "x"] {
            #expect(S3XML.date(bad) == nil, "\(bad)")
        }
        let error = "<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>"
        #expect(S3XML.parse(Array(error.utf8), record: "Error")?.records.first?["Code"] == "NoSuchBucket")
        #expect(S3XML.parse(Array("not xml <".utf8), record: "x") == nil)
    }

    @Test("listing text is read byte for byte: CR, CRLF and control characters stay as the store sent them; anything malformed is refused")
    func xmlTextIsReadByteForByte() throws {
        let document = Array("<?xml version=\"1.0\"?>\n<R xmlns=\"a>b\"><C><Key>a\rb</Key></C><C><Key>a\r\nb</Key></C><C><Key>a\nb</Key></C>".utf8)
            + [UInt8](arrayLiteral: 0x3C, 0x43, 0x3E, 0x3C, 0x4B, 0x65, 0x79, 0x3E, 0x01, 0x78, 0x3C, 0x2F, 0x4B, 0x65, 0x79, 0x3E, 0x3C, 0x2F, 0x43, 0x3E)  // <C><Key>\u{1}x</Key></C>
            + Array("<C><Key><![CDATA[<raw> & ]]>&#x1F600;&#233;&lt;</Key><Owner><ID>o</ID></Owner></C><Empty/><!-- note --></R>\n".utf8)
        let parsed = try #require(S3XML.parse(document, record: "C"))
        #expect(parsed.records.map { $0["Key"] ?? "?" }.map { Array($0.utf8) } == [
            Array("a\rb".utf8), Array("a\r\nb".utf8), Array("a\nb".utf8), [0x01, 0x78], Array("<raw> & 😀é<".utf8),
        ], "three different keys stay three")
        #expect(parsed.records[4]["ID"] == "o", "a leaf nested deeper still belongs to its record")
        #expect(parsed.top["Empty"] == "", "a self-closing element is empty text")
        for bad in ["<a><b></a></b>", "<a>", "<a></a><b></b>", "text<a></a>", "<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>", "<a>&bogus;</a>",
                    "<a>&#xZZ;</a>", "<a><![CDATA[open</a>", "<a", ""] {
            #expect(S3XML.parse(Array(bad.utf8), record: "a") == nil, "\(bad)")
        }
        #expect(S3XML.parse([0x3C, 0x61, 0x3E, 0xC3, 0x28, 0x3C, 0x2F, 0x61, 0x3E], record: "x") == nil, "text that is not UTF-8")
    }

    @Test("a listing answer that is not a whole ListObjectsV2 page is an error, never an empty or short page")
    func incompleteListingsAreErrors() throws {
        let entry = "<Contents><Key>a%0Db+c</Key><ETag>&#34;e&#34;</ETag><Size>3</Size><LastModified>2026-11-22T07:02:02Z</LastModified></Contents>"
        func page(_ inner: String, root: String = "ListBucketResult") -> [UInt8] {
            Array("<?xml version=\"1.0\"?><\(root) xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\(inner)</\(root)>".utf8)
        }
        let whole = try S3Bucket.parseListing(page("<IsTruncated>true</IsTruncated>\(entry)<CommonPrefixes><Prefix>d%2F+x%2F</Prefix></CommonPrefixes>"
                                                   + "<EncodingType>url</EncodingType><NextContinuationToken>t1</NextContinuationToken>"), what: "test")
        #expect(whole.entries.map { Array($0.key.utf8) } == [Array("a\rb c".utf8)])
        #expect(whole.entries.first?.etag == "e" && whole.entries.first?.size == 3)
        #expect(whole.prefixes == ["d/ x/"] && whole.next == "t1")
        // Without EncodingType in the answer the store did not encode: keys are taken as sent.
        let raw = try S3Bucket.parseListing(page("<IsTruncated>false</IsTruncated>\(entry)"), what: "test")
        #expect(raw.entries.first?.key == "a%0Db+c" && raw.next == nil)
        let broken: [([UInt8], String)] = [
            (page("<IsTruncated>false</IsTruncated>", root: "Error"), "is not a ListBucketResult (its root element is <Error>)"),
            (page(entry), "does not say whether more keys follow (IsTruncated is missing)"),
            (page("<IsTruncated>true</IsTruncated>\(entry)"), "says more keys follow (IsTruncated) but gives no NextContinuationToken"),
            (page("<IsTruncated>false</IsTruncated><Contents><Key>k</Key></Contents>"), "an entry lacks Key, Size or LastModified"),
            (page("<IsTruncated>false</IsTruncated><EncodingType>url</EncodingType><Contents><Key>%FF</Key><Size>1</Size>"
                  + "<LastModified>2026-11-22T07:02:02Z</LastModified></Contents>"), "holds a key that does not decode to UTF-8"),
            (Array("<html>502 Bad Gateway".utf8), "is not well-formed XML"),
        ]
        for (body, message) in broken {
            do {
                _ = try S3Bucket.parseListing(body, what: "test")
                Issue.record("accepted, though: \(message)")
            } catch {
                #expect("\(error)".contains("test " + message) || "\(error)".contains("test: " + message), "\(error)")
            }
        }
    }

    @Test("keys of a listing with encoding-type=url decode to their bytes; a broken escape or a key that is not UTF-8 is refused")
    func urlEncodedListingKeysDecode() {
        #expect(S3XML.urlDecoded("a%01b+c%E2%82%AC").map { Array($0.utf8) } == Array("a\u{1}b c€".utf8))
        #expect(S3XML.urlDecoded("x%0Dy") == "x\ry" && S3XML.urlDecoded("x%0Ay") == "x\ny")
        #expect(S3XML.urlDecoded("1%2B1%3D2") == "1+1=2")
        #expect(S3XML.urlDecoded("cafe%CC%81").map { Array($0.utf8) } == Array("cafe\u{301}".utf8), "the decomposed spelling, not the composed one")
        for bad in ["%", "%4", "%ZZ", "%C3", "%FF"] { #expect(S3XML.urlDecoded(bad) == nil, "\(bad)") }
    }
}

@Suite struct FullObjectChecksumTests {
    @Test func aSinglePartObjectsChecksumsAreOfItsWholeContent() {
        let sums = FullObjectChecksums(headers: ["x-amz-checksum-sha256": "abc=", "x-amz-checksum-crc32": "iH6F8A==", "etag": "\"d41d\""], etag: "d41d")
        #expect(sums.values == [.sha256: "abc=", .crc32: "iH6F8A=="])
    }

    @Test func compositeChecksumsDependOnThePartsAndDoNotCount() {
        // A multipart object's checksum of its parts' checksums: "-N", or type COMPOSITE, or no type at all.
        #expect(FullObjectChecksums(headers: ["x-amz-checksum-sha256": "abc=-3"], etag: "9b2c-3").isEmpty)
        #expect(FullObjectChecksums(headers: ["x-amz-checksum-crc32": "AAAAAA==", "x-amz-checksum-type": "COMPOSITE"], etag: "9b2c-3").isEmpty)
        #expect(FullObjectChecksums(headers: ["x-amz-checksum-crc32": "AAAAAA=="], etag: "9b2c-3").isEmpty)
        #expect(FullObjectChecksums(headers: ["x-amz-checksum-sha256": "abc=-2", "x-amz-checksum-type": "FULL_OBJECT"], etag: "9b2c-2").isEmpty)
        // A multipart upload with a full-object CRC: the same for any part layout.
        #expect(FullObjectChecksums(headers: ["x-amz-checksum-crc64nvme": "q1w2e3r4t5y=", "x-amz-checksum-type": "FULL_OBJECT"], etag: "9b2c-3").values
            == [.crc64nvme: "q1w2e3r4t5y="])
    }

    @Test func everySharedAlgorithmMustAgreeAndNoneSharedDecidesNothing() {
        let a = FullObjectChecksums(values: [.sha256: "s1", .crc32: "c1"])
        #expect(FullObjectChecksums.sameContent(a, FullObjectChecksums(values: [.sha256: "s1", .crc32: "c1"]))! == (true, .sha256))
        #expect(FullObjectChecksums.sameContent(a, FullObjectChecksums(values: [.sha256: "s1", .crc32: "c2"]))! == (false, .crc32))
        #expect(FullObjectChecksums.sameContent(a, FullObjectChecksums(values: [.crc32: "c1"]))! == (true, .crc32))
        #expect(FullObjectChecksums.sameContent(a, FullObjectChecksums(values: [.sha1: "x"])) == nil)
        #expect(FullObjectChecksums.sameContent(a, FullObjectChecksums(values: [:])) == nil)
    }
}
