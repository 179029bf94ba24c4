import Foundation

/// S3 speaks XML: the handful of small, flat documents syncd reads, read byte for byte. An XML
/// parser is the wrong tool for keys: it rewrites CR and CRLF in text to LF (so "a\rb" and "a\nb"
/// would be one key and a check could pass on differing buckets), and it refuses the control
/// characters an S3 key may hold (so one such key made a whole bucket uncheckable).
enum S3XML {
    struct Malformed: Error {}

    /// Walks a document: `start` for each element, `end` with the element's text when it held
    /// only text (nil when it had child elements). Entities and CDATA are decoded; nothing else
    /// of the text is changed. No DTDs (S3 never sends one): a document with one is refused.
    static func walk(_ bytes: [UInt8], start: (ArraySlice<UInt8>) -> Void, end: (ArraySlice<UInt8>, [UInt8]?) throws -> Void) throws {
        var stack: [(name: ArraySlice<UInt8>, hasChildren: Bool)] = []
        var text: [UInt8] = []
        var sawRoot = false
        var index = 0
        let count = bytes.count
        func find(_ needle: [UInt8], from: Int) -> Int? {
            guard needle.count <= count else { return nil }
            var position = from
            while position + needle.count <= count {
                if bytes[position] == needle[0], bytes[position..<(position + needle.count)].elementsEqual(needle) { return position }
                position += 1
            }
            return nil
        }
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }
        func isNameEnd(_ byte: UInt8) -> Bool { byte == UInt8(ascii: ">") || byte == UInt8(ascii: "/") || isSpace(byte) }
        while index < count {
            guard bytes[index] == UInt8(ascii: "<") else {
                let next = bytes[index...].firstIndex(of: UInt8(ascii: "<")) ?? count
                if stack.isEmpty {
                    // Only whitespace may sit outside the root element.
                    guard bytes[index..<next].allSatisfy(isSpace) else { throw Malformed() }
                } else {
                    try decodeEntities(bytes[index..<next], into: &text)
                }
                index = next
                continue
            }
            let rest = bytes[(index + 1)...]
            if rest.first == UInt8(ascii: "?") {
                guard let close = find(Array("?>".utf8), from: index) else { throw Malformed() }
                index = close + 2
            } else if rest.starts(with: "!--".utf8) {
                guard let close = find(Array("-->".utf8), from: index + 4) else { throw Malformed() }
                index = close + 3
            } else if rest.starts(with: "![CDATA[".utf8) {
                guard !stack.isEmpty, let close = find(Array("]]>".utf8), from: index + 9) else { throw Malformed() }
                text += bytes[(index + 9)..<close]
                index = close + 3
            } else if rest.first == UInt8(ascii: "!") {
                throw Malformed()
            } else if rest.first == UInt8(ascii: "/") {
                guard let close = bytes[index...].firstIndex(of: UInt8(ascii: ">")), let open = stack.popLast() else { throw Malformed() }
                var name = bytes[(index + 2)..<close]
                while let last = name.last, isSpace(last) { name = name.dropLast() }
                guard name.elementsEqual(open.name) else { throw Malformed() }
                try end(name, open.hasChildren ? nil : text)
                text = []
                index = close + 1
            } else {
                var nameEnd = index + 1
                while nameEnd < count, !isNameEnd(bytes[nameEnd]) { nameEnd += 1 }
                let name = bytes[(index + 1)..<nameEnd]
                guard !name.isEmpty, !(stack.isEmpty && sawRoot) else { throw Malformed() }
                // Attributes (the root's xmlns) are skipped; a quoted value may hold '>'.
                var position = nameEnd
                var quote: UInt8?
                while position < count {
                    let byte = bytes[position]
                    if let open = quote {
                        if byte == open { quote = nil }
                    } else if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") {
                        quote = byte
                    } else if byte == UInt8(ascii: ">") {
                        break
                    }
                    position += 1
                }
                guard position < count else { throw Malformed() }
                if !stack.isEmpty { stack[stack.count - 1].hasChildren = true }
                sawRoot = true
                text = []
                start(name)
                if bytes[position - 1] == UInt8(ascii: "/") {
                    try end(name, [])
                } else {
                    stack.append((name, false))
                }
                index = position + 1
            }
        }
        guard sawRoot, stack.isEmpty else { throw Malformed() }
    }

    /// Appends `raw` with the five named entities and character references decoded.
    static func decodeEntities(_ raw: ArraySlice<UInt8>, into output: inout [UInt8]) throws {
        var index = raw.startIndex
        while index < raw.endIndex {
            let byte = raw[index]
            guard byte == UInt8(ascii: "&") else {
                output.append(byte)
                index += 1
                continue
            }
            guard let semicolon = raw[index...].firstIndex(of: UInt8(ascii: ";")) else { throw Malformed() }
            let entity = raw[(index + 1)..<semicolon]
            switch String(decoding: entity, as: UTF8.self) {
            case "lt": output.append(UInt8(ascii: "<"))
            case "gt": output.append(UInt8(ascii: ">"))
            case "amp": output.append(UInt8(ascii: "&"))
            case "quot": output.append(UInt8(ascii: "\""))
            case "apos": output.append(UInt8(ascii: "'"))
            case let reference where reference.hasPrefix("#"):
                let digits = reference.dropFirst()
                let value = digits.hasPrefix("x") ? UInt32(digits.dropFirst(), radix: 16) : UInt32(digits, radix: 10)
                guard let value, let scalar = Unicode.Scalar(value) else { throw Malformed() }
                output += Array(String(Character(scalar)).utf8)
            default:
                throw Malformed()
            }
            index = semicolon + 1
        }
    }

    /// Every leaf element's text, grouped by the record element it sits in (Contents, Tag, Error,
    /// ...); leaves outside a record go to `top`. Nil when the document is malformed or not UTF-8.
    static func parse(_ bytes: [UInt8], records names: Set<String>) -> (top: [String: String], records: [String: [[String: String]]])? {
        var collected: [String: [[String: String]]] = [:]
        guard let document = try? records(bytes, named: names, { name, fields in collected[name, default: []].append(fields) }) else { return nil }
        return (document.top, collected)
    }

    /// The same, streamed: `each` gets every record as it ends (a listing page never holds them
    /// all); returns the root element's name and the leaves outside records. Throws `Malformed`
    /// for a malformed document or text that is not UTF-8, and whatever `each` throws.
    static func records(_ bytes: [UInt8], named names: Set<String>,
                        _ each: (_ name: String, _ fields: [String: String]) throws -> Void) throws -> (root: String, top: [String: String]) {
        var root: String?
        var top: [String: String] = [:]
        var current: (name: String, fields: [String: String])?
        try walk(bytes, start: { name in
            let name = String(validating: name, as: UTF8.self)
            if root == nil { root = name ?? "" }
            if current == nil, let name, names.contains(name) { current = (name, [:]) }
        }, end: { nameBytes, text in
            guard let name = String(validating: nameBytes, as: UTF8.self) else { throw Malformed() }
            if let finished = current, finished.name == name {
                current = nil
                try each(name, finished.fields)
                return
            }
            guard let text else { return }
            guard let value = String(validating: text, as: UTF8.self) else { throw Malformed() }
            if current != nil { current?.fields[name] = value } else { top[name] = value }
        })
        return (root ?? "", top)
    }

    static func parse(_ bytes: [UInt8], record: String) -> (top: [String: String], records: [[String: String]])? {
        parse(bytes, records: [record]).map { ($0.top, $0.records[record] ?? []) }
    }

    /// A key or prefix of a listing asked for with `encoding-type=url`: '+' is a space and %XX a
    /// byte. Nil when the bytes are not UTF-8 (S3 keys are) or an escape is broken.
    static func urlDecoded(_ text: String) -> String? {
        var bytes: [UInt8] = []
        var utf8 = text.utf8[...]
        while let byte = utf8.popFirst() {
            switch byte {
            case UInt8(ascii: "+"): bytes.append(0x20)
            case UInt8(ascii: "%"):
                guard utf8.count >= 2, let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16) else { return nil }
                bytes.append(value)
                utf8 = utf8.dropFirst(2)
            default: bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    /// S3's timestamps, "2026-11-22T07:02:02.123Z" (fraction optional), parsed by hand:
    /// Foundation's ISO8601DateFormatter costs about 90 µs per date on Linux, which dominated
    /// listing a bucket.
    static func date(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"), bytes[10] == UInt8(ascii: "T"),
              bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"), bytes.last == UInt8(ascii: "Z") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                let digit = Int(bytes[index]) - 48
                guard (0...9).contains(digit) else { return nil }
                value = value * 10 + digit
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), let hour = number(11..<13),
              let minute = number(14..<16), let second = number(17..<19), (1...12).contains(month), (1...31).contains(day),
              hour < 24, minute < 60, second < 61 else { return nil }
        var fraction = 0.0
        if bytes[19] == UInt8(ascii: ".") {
            let digits = 20..<(bytes.count - 1)
            guard !digits.isEmpty, let value = number(digits) else { return nil }
            fraction = Double(value) / pow(10, Double(digits.count))
        } else if bytes.count != 20 {
            return nil
        }
        // Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
        let shifted = month <= 2 ? year - 1 : year
        let era = (shifted >= 0 ? shifted : shifted - 399) / 400
        let yearOfEra = shifted - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        return Date(timeIntervalSince1970: Double(days * 86400 + hour * 3600 + minute * 60 + second) + fraction)
    }
}
