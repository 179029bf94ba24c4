import Foundation
import SyncCore
import SyncManager

/// Plain-text rendering for people; --json prints the API's JSON unchanged.
enum Format {
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        // Terminal columns, not characters or UTF-16 units: a name is padded, never cut.
        var widths = header.map(DisplayText.width)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], DisplayText.width(cell))
            }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index == cells.count - 1 || index >= widths.count ? cell : DisplayText.pad(cell, to: widths[index])
            }.joined(separator: "  ")
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }

    static func string(_ value: JSONValue?) -> String {
        switch value {
        case let .string(text)?: text
        case let .number(number)?: number.rounded() == number && abs(number) < 1e15 ? String(Int64(number)) : String(format: "%.2f", number)
        case let .bool(flag)?: String(flag)
        case .null?, nil: "-"
        default: "…"
        }
    }

    static func number(_ value: Double?) -> String {
        string(value.map(JSONValue.number))
    }

    static func seconds(_ value: Double?) -> String {
        value.map { String(format: "%.1f", $0) } ?? "-"
    }

    static func ratio(_ value: Double?) -> String {
        value.map { String(format: "%.7f", $0) } ?? "-"
    }

    /// The latest check as the gate sees it: lowest scope ratio, oldest scope age, and whether only
    /// partial checks ran or a full one stopped early (either way some scopes are unchecked).
    static func checkSummary(_ check: CheckSummary?, age: Double?) -> String {
        guard let check else { return "none" }
        var parts = [check.error == nil ? ratio(check.ratio) : "error"]
        if let age { parts.append("\(seconds(age)) s ago") }
        if check.partial == true {
            parts.append("partial")
        } else if check.complete == false {
            parts.append("incomplete")
        }
        return parts.joined(separator: ", ")
    }

    static func volume(_ value: Int64?, unit: VolumeUnit?) -> String {
        guard let value else { return "-" }
        if unit == .bytes { return bytes(Double(value)) }
        return "\(value) \(unit?.rawValue ?? "")"
    }

    static func bytes(_ count: Double) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = count
        var index = 0
        while value >= 1024, index < units.count - 1 {
            value /= 1024
            index += 1
        }
        return index == 0 ? "\(Int64(value)) B" : String(format: "%.1f %@", value, units[index])
    }

    static func rate(_ value: Double?, unit: VolumeUnit?) -> String {
        guard let value else { return "-" }
        return unit == .bytes ? bytes(value) + "/s" : String(format: "%.1f %@/s", value, unit?.rawValue ?? "")
    }

    static func pretty(_ value: JSONValue) -> String {
        guard let data = try? JSONCoding.prettyEncoder.encode(value) else { return "\(value)" }
        return String(decoding: data, as: UTF8.self)
    }

    static func gate(_ verdict: GateVerdict) -> String {
        var lines = ["gate: \(verdict.status.rawValue.uppercased())"]
        for source in verdict.sources {
            let lag = "lag \(seconds(source.lagSeconds)) s (budget \(seconds(source.lagBudgetSeconds)) s)"
            lines.append("  \(source.source)  \(source.status.rawValue.uppercased())  state \(source.state?.rawValue ?? "-"), \(lag), ratio \(number(source.ratio))")
            lines += source.reasons.map { "      - \(DisplayText.escape($0))" }
        }
        return lines.joined(separator: "\n")
    }

    /// An answer of syncd as the DTO both sides share; a mismatch is syncctl's or syncd's error.
    static func decode<T: Decodable>(_ value: JSONValue, as type: T.Type) throws -> T {
        do {
            return try value.decoded(as: type)
        } catch {
            throw CLIError(message: "syncd answered something this syncctl does not understand (\(T.self)): \(error); are both the same version?")
        }
    }
}
