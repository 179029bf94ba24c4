import Foundation
import Testing
@testable import SyncCore
@testable import SyncManager

/// RFC 8785 (JSON Canonicalization Scheme): the examples of its sections 3.2.2 and 3.2.3.
@Suite struct CanonicalJSONTests {
    func text(_ value: JSONValue) -> String { String(decoding: CanonicalJSON.encode(value), as: UTF8.self) }

    @Test("numbers print as ECMAScript prints them", arguments: [
        (333333333.33333329, "333333333.3333333"), (1e30, "1e+30"), (4.50, "4.5"), (2e-3, "0.002"), (1e-27, "1e-27"),
        (0, "0"), (-0.0, "0"), (100, "100"), (1e21, "1e+21"), (1e20, "100000000000000000000"), (1e-7, "1e-7"),
        (0.000001, "0.000001"), (-1.5, "-1.5"), (123456789012345680000, "123456789012345680000"), (9007199254740992, "9007199254740992"),
        (5e-324, "5e-324"), (1.7976931348623157e308, "1.7976931348623157e+308"), (0.1, "0.1"), (12.345e5, "1234500"),
    ])
    func numbers(_ number: Double, _ expected: String) {
        #expect(CanonicalJSON.format(number) == expected)
    }

    @Test func membersSortByUTF16AndStringsEscapeOnlyWhatTheySchemeAllows() {
        let value = JSONValue.object([
            "\u{20AC}": .string("Euro Sign"), "\r": .string("Carriage Return"), "\u{FB33}": .string("Hebrew Letter Dalet With Dagesh"),
            "1": .string("One"), "\u{1F600}": .string("Emoji: Grinning Face"), "\u{0080}": .string("Control"), "\u{00F6}": .string("Latin Small Letter O With Diaeresis"),
        ])
        #expect(text(value) == #"{"\r":"Carriage Return","1":"One","\#u{0080}":"Control","ö":"Latin Small Letter O With Diaeresis","€":"Euro Sign","\#u{1F600}":"Emoji: Grinning Face","\#u{FB33}":"Hebrew Letter Dalet With Dagesh"}"#)
        #expect(text(.string("a\"b\\c\u{08}\u{0C}\n\t\u{1F}/é")) == #""a\"b\\c\b\f\n\t\u001f/é""#)
        #expect(text(.array([.null, .bool(true), .bool(false), .object([:]), .array([])])) == "[null,true,false,{},[]]")
    }

    @Test func theDigestIgnoresKeyOrderAndWhitespaceButNotContent() throws {
        let one = try JSONCoding.decoder.decode(JSONValue.self, from: Data(#"{"b": [1, 2.50], "a": "x"}"#.utf8))
        let two = try JSONCoding.decoder.decode(JSONValue.self, from: Data(#"{"a":"x","b":[1,2.5]}"#.utf8))
        let three = try JSONCoding.decoder.decode(JSONValue.self, from: Data(#"{"a":"x","b":[1,2.51]}"#.utf8))
        #expect(CanonicalJSON.sha256(one) == CanonicalJSON.sha256(two))
        #expect(CanonicalJSON.sha256(one) != CanonicalJSON.sha256(three))
        #expect(CanonicalJSON.sha256(.object([:])) == "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a")
    }
}
