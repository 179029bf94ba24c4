import Foundation
import SyncCore

/// Server-rendered HTML: every text from a data store, a config or a server goes through `escape`.
enum HTML {
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default:
                // Control characters (a key may hold any byte) are shown, not passed to the browser.
                if scalar.value < 0x20 && scalar != "\n" && scalar != "\t" || scalar.value == 0x7F {
                    out += "\\u{\(String(scalar.value, radix: 16))}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }

    /// Escapes for use inside a URL path segment of a link.
    static func pathSegment(_ text: String) -> String {
        escape(text.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? text)
    }

    /// A whole page: the shared head (syncd's own stylesheet, a refresh every `refresh` seconds),
    /// the navigation and `body`.
    static func page(title: String, refresh: Int?, signedIn: Bool, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        \(refresh.map { "<meta http-equiv=\"refresh\" content=\"\($0)\">" } ?? "")
        <title>\(escape(title)) · syncd</title>
        <link rel="stylesheet" href="/ui/style.css">
        </head>
        <body>
        <header><a class="brand" href="/">syncd</a>\(signedIn ? """
         <nav><a href="/">Overview</a> <a href="/ui/cutovers">Cutover runs</a></nav>
        <form class="signout" method="post" action="/ui/logout"><button type="submit">Sign out</button></form>
        """ : "")</header>
        <main>
        \(body)
        </main>
        </body>
        </html>
        """
    }

    static func seconds(_ value: Double?) -> String {
        guard let value else { return "unknown" }
        return value < 10 ? String(format: "%.2f", value) : String(format: "%.1f", value)
    }

    static func ratio(_ value: Double?) -> String {
        value.map { String(format: "%.7f", $0) } ?? "—"
    }

    static func age(_ seconds: Double?) -> String {
        guard let seconds else { return "—" }
        if seconds < 120 { return "\(Int(seconds)) s ago" }
        if seconds < 7200 { return "\(Int(seconds / 60)) min ago" }
        if seconds < 172_800 { return String(format: "%.1f h ago", seconds / 3600) }
        return String(format: "%.1f days ago", seconds / 86400)
    }

    static func time(_ date: Date) -> String {
        ISO8601DateFormatter().string(from: date)
    }

    static func volume(_ value: Int64?, _ unit: VolumeUnit?) -> String {
        guard let value else { return "unknown" }
        return "\(value) \(unit?.rawValue ?? "")"
    }

    static func throughput(_ value: Double?, _ unit: VolumeUnit?) -> String {
        guard let value else { return "—" }
        return String(format: "%.1f", value) + " \(unit?.rawValue ?? "units")/s"
    }

    /// A state in words with its colour class.
    static func state(_ state: SyncState?) -> String {
        guard let state else { return "<span class=\"state unknown\">no sample</span>" }
        let css: String = switch state {
        case .inSync: "ok"
        case .syncing: "busy"
        case .lagging, .paused: "warn"
        case .broken, .unreachable: "bad"
        }
        return "<span class=\"state \(css)\">\(escape(state.rawValue.replacingOccurrences(of: "_", with: " ")))</span>"
    }

    static let stylesheet = """
    :root { color-scheme: light; --ok: #1a7f37; --bad: #b42318; --warn: #9a6700; --busy: #0969da; --muted: #57606a; }
    * { box-sizing: border-box; }
    body { margin: 0; font: 15px/1.45 system-ui, "DejaVu Sans", sans-serif; color: #1f2328; background: #f6f8fa; }
    header { display: flex; gap: 1.5rem; align-items: center; padding: .6rem 1.2rem; background: #24292f; color: #fff; }
    header a { color: #fff; text-decoration: none; margin-right: 1rem; }
    header .brand { font-weight: 700; font-size: 1.1rem; }
    header form.signout { margin-left: auto; }
    main { padding: 1rem 1.2rem; max-width: 1200px; }
    h1 { font-size: 1.4rem; margin: .4rem 0 1rem; } h2 { font-size: 1.15rem; margin: 1.6rem 0 .6rem; }
    .banner { padding: .9rem 1.1rem; border-radius: 6px; color: #fff; margin-bottom: 1rem; }
    .banner.pass { background: var(--ok); } .banner.fail { background: var(--bad); }
    .banner strong { font-size: 1.3rem; letter-spacing: .04em; }
    .banner ul { margin: .4rem 0 0; padding-left: 1.2rem; }
    .summary { margin: .2rem 0 1rem; color: #1f2328; }
    table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid #d0d7de; }
    th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid #d8dee4; vertical-align: top; }
    th { background: #f0f3f6; font-weight: 600; }
    td.num { font-variant-numeric: tabular-nums; text-align: right; }
    .state { font-weight: 600; } .state.ok { color: var(--ok); } .state.bad { color: var(--bad); }
    .state.warn { color: var(--warn); } .state.busy { color: var(--busy); } .state.unknown { color: var(--muted); }
    .verdict.pass { color: var(--ok); font-weight: 700; } .verdict.fail { color: var(--bad); font-weight: 700; }
    .muted { color: var(--muted); }
    code, .key { font-family: ui-monospace, "DejaVu Sans Mono", monospace; word-break: break-all; }
    svg.spark polyline { fill: none; stroke: var(--busy); stroke-width: 1.5; }
    svg.chart { background: #fff; border: 1px solid #d0d7de; }
    svg.chart polyline { fill: none; stroke: var(--busy); stroke-width: 2; }
    svg.chart .axis { stroke: #57606a; stroke-width: 1; } svg.chart .grid { stroke: #d8dee4; stroke-width: 1; }
    svg.chart text { font: 11px system-ui, "DejaVu Sans", sans-serif; fill: #57606a; }
    form.login { background: #fff; border: 1px solid #d0d7de; padding: 1.2rem; max-width: 26rem; border-radius: 6px; }
    form.login input { width: 100%; padding: .45rem; margin: .4rem 0 .8rem; font: inherit; }
    .error { color: var(--bad); font-weight: 600; }
    .pager a { margin-right: .8rem; }
    """
}
