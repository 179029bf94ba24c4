import Foundation
import SyncCore

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

    static func seconds(_ value: JSONValue?) -> String {
        guard case let .number(number)? = value else { return "-" }
        return String(format: "%.1f", number)
    }

    /// The latest check as the gate sees it: lowest scope ratio, oldest scope age, and whether only
    /// partial checks ran or a full one stopped early (either way some scopes are unchecked).
    static func checkSummary(_ check: JSONValue?, age: JSONValue?) -> String {
        guard let check, check != .null else { return "none" }
        var parts = [check["error"].map { $0 == .null ? ratio(check["ratio"]) : "error" } ?? ratio(check["ratio"])]
        if case .number? = age { parts.append("\(seconds(age)) s ago") }
        if check["partial"] == .bool(true) {
            parts.append("partial")
        } else if check["complete"] == .bool(false) {
            parts.append("incomplete")
        }
        return parts.joined(separator: ", ")
    }

    static func volume(_ value: JSONValue?, unit: JSONValue?) -> String {
        guard case let .number(number)? = value else { return "-" }
        if string(unit) == "bytes" { return bytes(number) }
        return "\(Int64(number)) \(string(unit))"
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

    static func rate(_ value: JSONValue?, unit: JSONValue?) -> String {
        guard case let .number(number)? = value else { return "-" }
        return string(unit) == "bytes" ? bytes(number) + "/s" : String(format: "%.1f %@/s", number, string(unit))
    }

    static func pretty(_ value: JSONValue) -> String {
        guard let data = try? JSONCoding.prettyEncoder.encode(value) else { return "\(value)" }
        return String(decoding: data, as: UTF8.self)
    }

    static func gate(_ verdict: JSONValue) -> String {
        var lines = ["gate: \(string(verdict["status"]).uppercased())"]
        guard case let .array(sources)? = verdict["sources"] else { return lines.joined(separator: "\n") }
        for source in sources {
            let state = string(source["state"])
            let lag = "lag \(seconds(source["lag_seconds"])) s (budget \(seconds(source["lag_budget_seconds"])) s)"
            let ratio = source["ratio"].map { "ratio \(string($0))" } ?? "ratio -"
            lines.append("  \(string(source["source"]))  \(string(source["status"]).uppercased())  state \(state), \(lag), \(ratio)")
            if case let .array(reasons)? = source["reasons"] {
                lines += reasons.map { "      - \(string($0))" }
            }
        }
        return lines.joined(separator: "\n")
    }
}
