import Foundation

/// A key, name or value read from a data store, identified by its bytes. Swift's `String` equality
/// is canonical equivalence ("café" in NFC equals "cafe\u{301}" in NFD), so two different keys put in
/// a `Set` or `Dictionary` as strings become one; a `ByteKey` keeps them apart. Ordering is by
/// unsigned bytes, which is UTF-8 code point order (S3's listing order, PostgreSQL's `COLLATE "C"`).
public struct ByteKey: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// The string's UTF-8 bytes, exactly as stored (Swift never normalises a string's contents).
    public init(_ string: String) { bytes = Array(string.utf8) }

    /// The key as text, when its bytes are valid UTF-8; round-trips to the same bytes.
    public var string: String? { String(validating: bytes, as: UTF8.self) }

    /// For talking to the store (URLs, query parameters): valid UTF-8 comes back unchanged.
    public var lossyString: String { String(decoding: bytes, as: UTF8.self) }

    public static func < (lhs: ByteKey, rhs: ByteKey) -> Bool { lhs.bytes.lexicographicallyPrecedes(rhs.bytes) }

    /// How text output shows the key: two different keys never print alike (see `DisplayText`).
    public var description: String { DisplayText.escape(bytes) }
}

extension String {
    /// The byte identity of this string (see `ByteKey`).
    public var byteKey: ByteKey { ByteKey(self) }

    /// Byte equality, where `==` would equate canonically equivalent spellings.
    public func sameBytes(as other: String) -> Bool { utf8.elementsEqual(other.utf8) }
}

/// Text for people, kept apart from identity: what a terminal would hide or reinterpret is escaped,
/// so two keys that differ never print alike.
public enum DisplayText {
    /// Control and non-printable characters as JSON writes them (`\n`, `\t`, `\u001b`); when the text
    /// is not in NFC, its combining marks as `\u` escapes too, so "café" and "cafe\u0301" differ.
    public static func escape(_ text: String) -> String {
        let decomposedForm = !isNFC(text)
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            if let escaped = controlEscape(scalar) {
                out += escaped
            } else if decomposedForm, isCombining(scalar) {
                out += unicodeEscape(scalar)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// Bytes that are not valid UTF-8 show their invalid bytes as `\xNN`.
    public static func escape(_ bytes: [UInt8]) -> String {
        if let text = String(validating: bytes, as: UTF8.self) { return escape(text) }
        var out = ""
        var start = 0
        while start < bytes.count {
            // The longest valid UTF-8 run from `start`, then one invalid byte.
            var decoder = UTF8()
            var iterator = bytes[start...].makeIterator()
            var consumed = 0
            var valid = ""
            decoding: while true {
                switch decoder.decode(&iterator) {
                case let .scalarValue(scalar):
                    valid.unicodeScalars.append(scalar)
                    consumed += UTF8.width(scalar)
                case .emptyInput, .error:
                    break decoding
                }
            }
            var end = start + consumed
            out += escape(valid)
            if end < bytes.count {
                out += "\\x" + hex(bytes[end], width: 2)
                end += 1
            }
            start = end
        }
        return out
    }

    /// A key in a table cell: escaped, and quoted when it holds a space or a quote (so its edges show).
    public static func cell(_ text: String) -> String {
        quoted(escape(text))
    }

    /// Bytes in a table cell or a plan: the same escaping, `\xNN` for bytes that are not UTF-8.
    public static func cell(_ bytes: [UInt8]) -> String {
        quoted(escape(bytes))
    }

    private static func quoted(_ escaped: String) -> String {
        guard escaped.isEmpty || escaped.contains(" ") || escaped.contains("\"") else { return escaped }
        return "\"" + escaped.replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    static func isNFC(_ text: String) -> Bool {
        text.precomposedStringWithCanonicalMapping.unicodeScalars.elementsEqual(text.unicodeScalars)
    }

    static func isCombining(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark: true
        default: false
        }
    }

    static func controlEscape(_ scalar: Unicode.Scalar) -> String? {
        switch scalar {
        case "\n": return "\\n"
        case "\t": return "\\t"
        case "\r": return "\\r"
        case "\u{08}": return "\\b"
        case "\u{0C}": return "\\f"
        case "\\": return "\\\\"
        default: break
        }
        switch scalar.properties.generalCategory {
        // Controls (C0, DEL, C1), format characters (bidi overrides, zero-width), line and paragraph
        // separators, unassigned and private-use code points: none of them prints as itself.
        case .control, .format, .lineSeparator, .paragraphSeparator, .unassigned, .privateUse, .surrogate:
            return unicodeEscape(scalar)
        default:
            return nil
        }
    }

    static func unicodeEscape(_ scalar: Unicode.Scalar) -> String {
        if scalar.value <= 0xFFFF { return "\\u" + hex(scalar.value, width: 4) }
        // JSON's form for scalars beyond the BMP: a surrogate pair.
        let value = scalar.value - 0x10000
        return "\\u" + hex(0xD800 + (value >> 10), width: 4) + "\\u" + hex(0xDC00 + (value & 0x3FF), width: 4)
    }

    static func hex<T: BinaryInteger>(_ value: T, width: Int) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    /// Terminal columns the text takes: combining marks and zero-width characters 0, East Asian wide
    /// and emoji 2, everything else 1. Text tables pad by this, never by `count` or UTF-16 units.
    public static func width(_ text: String) -> Int {
        var columns = 0
        for scalar in text.unicodeScalars {
            columns += width(of: scalar)
        }
        return columns
    }

    static func width(of scalar: Unicode.Scalar) -> Int {
        let value = scalar.value
        if value == 0x200D || (0xFE00...0xFE0F).contains(value) { return 0 }  // joiner, variation selectors
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .enclosingMark, .format, .control: return 0
        default: break
        }
        if scalar.properties.isEmojiPresentation { return 2 }
        return isWide(value) ? 2 : 1
    }

    /// East Asian Wide and Fullwidth ranges (Unicode's EastAsianWidth W and F, the common blocks).
    static func isWide(_ value: UInt32) -> Bool {
        switch value {
        case 0x1100...0x115F, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF,
             0xA000...0xA4CF, 0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE30...0xFE4F, 0xFF00...0xFF60,
             0xFFE0...0xFFE6, 0x1F300...0x1F64F, 0x1F900...0x1F9FF, 0x20000...0x2FFFD, 0x30000...0x3FFFD:
            return true
        default:
            return false
        }
    }

    /// `text` padded with spaces to `columns` terminal columns (never cut).
    public static func pad(_ text: String, to columns: Int) -> String {
        text + String(repeating: " ", count: max(0, columns - width(text)))
    }
}

extension ByteKey: ExpressibleByStringLiteral {
    /// A literal's UTF-8 bytes, as written in the source file.
    public init(stringLiteral value: String) { self.init(value) }
}
