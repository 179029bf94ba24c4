import Crypto
import Foundation
import SyncCore

/// JSON in the JSON Canonicalization Scheme (RFC 8785): object members sorted by their UTF-16 code
/// units, no whitespace, strings with only the escapes the scheme allows, numbers as ECMAScript
/// prints them. Two encoders that agree on the value agree on the bytes, so a digest of them
/// identifies a report wherever it is checked.
public enum CanonicalJSON {
    public static func encode(_ value: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        write(value, into: &out)
        return out
    }

    public static func encode(_ value: some Encodable) throws -> [UInt8] {
        encode(try JSONValue.from(value))
    }

    /// Lower-case hex SHA-256 of the canonical form.
    public static func sha256(_ value: JSONValue) -> String {
        SHA256.hash(data: encode(value)).map { String(format: "%02x", $0) }.joined()
    }

    static func write(_ value: JSONValue, into out: inout [UInt8]) {
        switch value {
        case .null: out += Array("null".utf8)
        case let .bool(flag): out += Array((flag ? "true" : "false").utf8)
        case let .number(number): out += Array(format(number).utf8)
        case let .string(text): writeString(text, into: &out)
        case let .array(items):
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                write(item, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case let .object(members):
            out.append(UInt8(ascii: "{"))
            let sorted = members.sorted { $0.key.utf16.lexicographicallyPrecedes($1.key.utf16) }
            for (index, member) in sorted.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                writeString(member.key, into: &out)
                out.append(UInt8(ascii: ":"))
                write(member.value, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    static func writeString(_ text: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += Array("\\\"".utf8)
            case "\\": out += Array("\\\\".utf8)
            case "\u{08}": out += Array("\\b".utf8)
            case "\u{0C}": out += Array("\\f".utf8)
            case "\n": out += Array("\\n".utf8)
            case "\r": out += Array("\\r".utf8)
            case "\t": out += Array("\\t".utf8)
            case _ where scalar.value < 0x20: out += Array(String(format: "\\u%04x", scalar.value).utf8)
            default: out += Array(String(scalar).utf8)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// ECMAScript's Number::toString: the shortest digits that round-trip (Swift's `description`
    /// finds them too), laid out as plain digits for exponents -6...20 and as d.ddde±n otherwise.
    public static func format(_ number: Double) -> String {
        guard number.isFinite else { return "null" }
        if number == 0 { return "0" }
        let negative = number < 0
        // Swift writes the shortest round-trip digits, possibly with an exponent ("1.5e-07").
        let text = "\(abs(number))".lowercased()
        var mantissa = text
        var exponent = 0
        if let e = text.firstIndex(of: "e") {
            mantissa = String(text[..<e])
            exponent = Int(text[text.index(after: e)...]) ?? 0
        }
        var digits = mantissa.replacingOccurrences(of: ".", with: "")
        var pointAt = (mantissa.firstIndex(of: ".").map { mantissa.distance(from: mantissa.startIndex, to: $0) } ?? mantissa.count) + exponent
        // Strip leading zeros (moving the point) and trailing zeros.
        while digits.hasPrefix("0"), digits.count > 1 {
            digits.removeFirst()
            pointAt -= 1
        }
        while digits.hasSuffix("0"), digits.count > 1 { digits.removeLast() }
        let k = digits.count
        let n = pointAt
        var result: String
        if k <= n, n <= 21 {
            result = digits + String(repeating: "0", count: n - k)
        } else if 0 < n, n <= 21 {
            let index = digits.index(digits.startIndex, offsetBy: n)
            result = digits[..<index] + "." + digits[index...]
        } else if -6 < n, n <= 0 {
            result = "0." + String(repeating: "0", count: -n) + digits
        } else {
            let power = n - 1
            let sign = power < 0 ? "-" : "+"
            let head = String(digits.prefix(1))
            let tail = digits.dropFirst()
            result = head + (tail.isEmpty ? "" : "." + tail) + "e" + sign + String(abs(power))
        }
        return negative ? "-" + result : result
    }
}
