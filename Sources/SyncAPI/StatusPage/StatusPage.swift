import Foundation
import HTTPTypes
import Hummingbird
import SyncCore
import SyncManager

/// The read-only status page at `/` and under `/ui/`: server-rendered, no script, refreshing
/// itself every poll interval. Page views read the same state as `/v1/status`; they are not gate
/// decisions, so they are neither journaled nor counted in `syncd_gate_decisions_total`.
enum StatusPage {
    static let diffsPerPage = 50

    static func register(on router: Router<APIContext>, manager: SyncManager, sessions: UISessions) {
        router.get("/ui/style.css") { _, _ -> Response in
            respond(HTML.stylesheet, contentType: "text/css; charset=utf-8", cache: "public, max-age=300")
        }
        router.get("/ui/login") { request, _ -> Response in
            if sessions.role(of: request) != nil { return redirect("/") }
            return html(loginPage(error: nil))
        }
        router.post("/ui/login") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 8192)
            let token = formField("token", in: String(buffer: body)) ?? ""
            guard let cookie = sessions.signIn(token: token.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                return html(loginPage(error: token.isEmpty ? "Enter a token." : "That token is not accepted."), status: .unauthorized)
            }
            var response = redirect("/")
            response.headers[.setCookie] = cookie
            return response
        }
        router.post("/ui/logout") { _, _ -> Response in
            var response = redirect("/ui/login")
            response.headers[.setCookie] = sessions.signOut
            return response
        }

        let pages = router.group().add(middleware: RequireSession(sessions: sessions))
        pages.get("/") { _, _ -> Response in
            html(await overview(manager))
        }
        pages.get("/ui/sources/:name") { request, context -> Response in
            let name = try context.parameters.require("name")
            guard let monitor = manager.monitor(named: name) else {
                return html(HTML.page(title: "Unknown source", refresh: nil, signedIn: true,
                                      body: "<h1>No source named \(HTML.escape(name))</h1><p><a href=\"/\">Back to the overview</a></p>"), status: .notFound)
            }
            let page = max(1, Int(request.uri.queryParameters["page"].map(String.init) ?? "1") ?? 1)
            return html(await sourcePage(manager, monitor, page: page))
        }
        pages.get("/ui/cutovers") { _, _ -> Response in
            html(await cutoverList(manager))
        }
        pages.get("/ui/cutovers/:id") { _, context -> Response in
            let id = try context.parameters.require("id")
            return html(await cutoverPage(manager, id: id))
        }
    }

    /// Pages need a session; without one the browser is sent to the sign-in form.
    struct RequireSession: RouterMiddleware {
        typealias Context = APIContext
        let sessions: UISessions
        func handle(_ request: Request, context: APIContext, next: (Request, APIContext) async throws -> Response) async throws -> Response {
            guard let role = sessions.role(of: request) else { return redirect("/ui/login") }
            var context = context
            context.role = role
            return try await next(request, context)
        }
    }

    // MARK: pages

    static func loginPage(error: String?) -> String {
        HTML.page(title: "Sign in", refresh: nil, signedIn: false, body: """
        <h1>Sign in to syncd</h1>
        <form class="login" method="post" action="/ui/login">
        <label for="token">API token (the read token is enough: this page changes nothing)</label>
        <input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
        \(error.map { "<p class=\"error\" id=\"login-error\">\(HTML.escape($0))</p>" } ?? "")
        <button type="submit">Sign in</button>
        </form>
        """)
    }

    static func refreshSeconds(_ manager: SyncManager) -> Int {
        let shortest = manager.monitors.map(\.config.pollIntervalSeconds).min() ?? 5
        return max(1, Int(shortest.rounded(.up)))
    }

    /// The gate banner, as a pipeline asking `/v1/gate` now would be answered (without asking it).
    static func banner(_ manager: SyncManager, _ statuses: [SourceStatus], now: Date) async -> String {
        var verdict = Gate.combine(statuses.map(\.verdict), at: now)
        var extra: [String] = []
        if let cluster = await manager.cluster(), let error = cluster.journalError {
            verdict.status = .fail
            extra.append("the shared journal is unavailable: \(error)")
        }
        let pass = verdict.status == .pass
        let reasons = extra + verdict.sources.flatMap { source in source.reasons.map { "\(source.source): \($0)" } }
        return """
        <section class="banner \(pass ? "pass" : "fail")" id="gate" data-gate="\(pass ? "pass" : "fail")">
        <strong>GATE \(pass ? "PASS" : "FAIL")</strong> — \(pass ? "every source is in sync and recently verified" : "a cutover now would not be safe")
        \(reasons.isEmpty ? "" : "<ul>" + reasons.map { "<li>\(HTML.escape($0))</li>" }.joined() + "</ul>")
        </section>
        """
    }

    static func summaryLine(_ summary: StatusSummary) -> String {
        let worst = summary.worstLagSeconds.map { "worst lag \(HTML.seconds($0)) s (\(HTML.escape(summary.worstLagSource ?? "")))" } ?? "worst lag unknown"
        let unknown = summary.lagUnknown.isEmpty ? "" : "; lag unknown for \(HTML.escape(summary.lagUnknown.joined(separator: ", ")))"
        let old = summary.checksTooOld.isEmpty ? "no check older than its limit"
            : "\(summary.checksTooOld.count) without a check within its limit (\(HTML.escape(summary.checksTooOld.joined(separator: ", "))))"
        return "<p class=\"summary\" id=\"summary\">\(summary.inSync) of \(summary.sources) sources in sync · \(worst)\(unknown) · \(old)</p>"
    }

    static func overview(_ manager: SyncManager) async -> String {
        let now = Date()
        let statuses = await manager.status()
        var rows: [String] = []
        for (monitor, status) in zip(manager.monitors, statuses) {
            let history = await monitor.history(limit: 600)
            let sample = status.latest
            let check = status.latestCheck
            let link = "/ui/sources/\(HTML.pathSegment(status.name))"
            rows.append("""
            <tr class="source" data-source="\(HTML.escape(status.name))">
            <td><a href="\(link)">\(HTML.escape(status.name))</a></td>
            <td>\(HTML.escape(status.kind.rawValue))</td>
            <td>\(HTML.escape(sample?.topology ?? "—"))</td>
            <td>\(HTML.state(sample?.state))</td>
            <td class="num">\(HTML.seconds(sample?.lagSeconds))</td>
            <td class="num">\(HTML.volume(sample?.lagVolume, sample?.unit))</td>
            <td class="num">\(HTML.throughput(sample?.throughput, sample?.unit))</td>
            <td class="num">\(HTML.ratio(check?.ratio))</td>
            <td>\(HTML.age(check.map { now.timeIntervalSince($0.finishedAt) }))</td>
            <td><span class="verdict \(status.verdict.status.rawValue)">\(status.verdict.status.rawValue.uppercased())</span></td>
            <td>\(Charts.sparkline(history, label: "lag of \(status.name)"))</td>
            </tr>
            """)
        }
        let body = """
        <h1>Sources</h1>
        \(await banner(manager, statuses, now: now))
        \(summaryLine(StatusSummary(statuses)))
        <table id="sources">
        <thead><tr><th>Source</th><th>Kind</th><th>Mode</th><th>State</th><th>Lag (s)</th><th>Behind</th><th>Throughput</th><th>Check ratio</th><th>Checked</th><th>Gate</th><th>Lag history</th></tr></thead>
        <tbody>
        \(rows.joined(separator: "\n"))
        </tbody>
        </table>
        <p class="muted">Updated \(HTML.time(now)); this page refreshes every \(refreshSeconds(manager)) s.</p>
        """
        return HTML.page(title: "Overview", refresh: refreshSeconds(manager), signedIn: true, body: body)
    }

    static func sourcePage(_ manager: SyncManager, _ monitor: SourceMonitor, page: Int) async -> String {
        let now = Date()
        let status = await manager.status(of: monitor)
        let history = await monitor.history(limit: 600)
        let unit = status.latest?.unit.rawValue ?? "units"
        var sections: [String] = []
        sections.append("""
        <h1>\(HTML.escape(status.name)) <span class="muted">\(HTML.escape(status.kind.rawValue)) · \(HTML.escape(status.latest?.topology ?? "—"))</span></h1>
        <p>State \(HTML.state(status.latest?.state)) · lag \(HTML.seconds(status.latest?.lagSeconds)) s · behind \(HTML.volume(status.latest?.lagVolume, status.latest?.unit)) · gate <span class="verdict \(status.verdict.status.rawValue)">\(status.verdict.status.rawValue.uppercased())</span></p>
        \(status.verdict.reasons.isEmpty ? "" : "<ul class=\"reasons\">" + status.verdict.reasons.map { "<li>\(HTML.escape($0))</li>" }.joined() + "</ul>")
        \((status.latest?.errors ?? []).isEmpty ? "" : "<p class=\"error\">" + (status.latest?.errors ?? []).map(HTML.escape).joined(separator: "<br>") + "</p>")
        """)
        sections.append("<h2>Lag and throughput</h2>")
        sections.append(Charts.chart(title: "Lag of \(status.name)", unit: "seconds", times: history.map(\.time), values: history.map(\.lagSeconds), now: now))
        sections.append(Charts.chart(title: "Throughput of \(status.name)", unit: "\(unit) per second", times: history.map(\.time), values: history.map(\.throughput), now: now))
        if let details = status.latest?.details, !details.isEmpty {
            sections.append("<h2>Latest sample</h2><table class=\"details\"><tbody>" + details.sorted(by: { $0.key < $1.key }).map {
                "<tr><th>\(HTML.escape($0.key))</th><td>\(HTML.escape($0.value))</td></tr>"
            }.joined() + "</tbody></table>")
        }
        sections.append(await latestCheck(manager, status.name, page: page))
        sections.append(await journalSection(manager, source: status.name))
        return HTML.page(title: status.name, refresh: refreshSeconds(manager), signedIn: true, body: sections.joined(separator: "\n"))
    }

    static func latestCheck(_ manager: SyncManager, _ name: String, page: Int) async -> String {
        guard let detail = try? await manager.latestCheckResult(source: name), let result = detail["result"] else {
            return "<h2>Latest check</h2><p class=\"muted\">No consistency check has run.</p>"
        }
        func number(_ key: String) -> String {
            guard case let .number(value)? = result[key] else { return "—" }
            return value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(format: "%.7f", value)
        }
        func text(_ key: String) -> String {
            if case let .string(value)? = result[key] { return value }
            return "—"
        }
        var diffs: [JSONValue] = []
        if case let .array(items)? = result["diffs"] { diffs = items }
        let pages = max(1, (diffs.count + diffsPerPage - 1) / diffsPerPage)
        let current = min(page, pages)
        let shown = diffs.dropFirst((current - 1) * diffsPerPage).prefix(diffsPerPage)
        let rows = shown.map { diff -> String in
            var table = "", kind = "", why = ""
            if case let .string(value)? = diff["table"] { table = value }
            if case let .string(value)? = diff["kind"] { kind = value }
            if case let .string(value)? = diff["detail"] { why = value }
            return "<tr class=\"diff\"><td>\(HTML.escape(table))</td><td class=\"key\">\(HTML.escape(keyText(diff["key"])))</td><td>\(HTML.escape(kind))</td><td>\(HTML.escape(why))</td></tr>"
        }
        let truncated = result["diffs_truncated"] == .bool(true) ? " (the check listed the first \(diffs.count); run verify with --full-diff for all)" : ""
        var pager = ""
        if pages > 1 {
            let base = "/ui/sources/\(HTML.pathSegment(name))"
            pager = "<p class=\"pager\">Page \(current) of \(pages) " + (current > 1 ? "<a href=\"\(base)?page=\(current - 1)\">previous</a>" : "")
                + (current < pages ? "<a href=\"\(base)?page=\(current + 1)\">next</a>" : "") + "</p>"
        }
        let error = text("error") == "—" ? "" : "<p class=\"error\">\(HTML.escape(text("error")))</p>"
        return """
        <h2>Latest check</h2>
        <p>\(HTML.escape(text("status")).uppercased()) · ratio \(number("ratio")) (threshold \(number("threshold"))) · \(number("primary_rows")) on the primary, \(number("dr_rows")) on the DR side · \(number("missing")) missing, \(number("extra")) extra, \(number("changed")) changed · finished \(HTML.escape(text("finished_at")))</p>
        \(error)
        <h3>Differences\(HTML.escape(truncated))</h3>
        \(diffs.isEmpty ? "<p class=\"muted\">None.</p>" : "<table id=\"diffs\"><thead><tr><th>Scope</th><th>Key</th><th>Kind</th><th>Detail</th></tr></thead><tbody>\(rows.joined())</tbody></table>")
        \(pager)
        """
    }

    /// A difference's key as an operator reads it: the bare key when it is one string, else its JSON.
    static func keyText(_ key: JSONValue?) -> String {
        guard let key else { return "" }
        if case let .object(fields) = key, fields.count == 1, case let .string(value)? = fields.values.first { return value }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(key)).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    static func journalSection(_ manager: SyncManager, source: String?) async -> String {
        guard let entries = try? await manager.journal.recent(limit: 50, source: source, kind: nil) else {
            return "<h2>Journal</h2><p class=\"error\">The journal cannot be read now.</p>"
        }
        let rows = entries.map { entry in
            "<tr><td>\(HTML.time(entry.time))</td><td>\(HTML.escape(entry.kind))</td><td>\(HTML.escape(entry.action))</td><td>\(HTML.escape(entry.outcome))</td><td>\(HTML.escape(entry.actor))</td></tr>"
        }
        return """
        <h2>Journal (latest \(entries.count))</h2>
        <table id="journal"><thead><tr><th>Time</th><th>Kind</th><th>Action</th><th>Outcome</th><th>Actor</th></tr></thead><tbody>\(rows.joined())</tbody></table>
        """
    }

    static func cutoverList(_ manager: SyncManager) async -> String {
        let running = await manager.cutoverRunList()
        let finished = (try? await manager.journal.recent(limit: 200, source: nil, kind: "cutover"))?.filter { $0.action == "finish" } ?? []
        var rows: [String] = running.map { run in
            "<tr><td><a href=\"/ui/cutovers/\(HTML.pathSegment(run.id))\">\(HTML.escape(run.id))</a></td><td>\(run.drill ? "drill" : "cutover")</td><td>\(HTML.escape(run.status.rawValue))</td><td>\(HTML.time(run.startedAt))</td><td>\(HTML.escape(run.actor))</td></tr>"
        }
        let known = Set(running.map(\.id))
        for entry in finished {
            guard case let .string(id)? = entry.detail?["id"], !known.contains(id) else { continue }
            rows.append("<tr><td><a href=\"/ui/cutovers/\(HTML.pathSegment(id))\">\(HTML.escape(id))</a></td><td>—</td><td>\(HTML.escape(entry.outcome))</td><td>\(HTML.time(entry.time)) (finished)</td><td>\(HTML.escape(entry.actor))</td></tr>")
        }
        let body = """
        <h1>Cutover runs</h1>
        \(rows.isEmpty ? "<p class=\"muted\">No cutover run yet.</p>" : "<table id=\"cutovers\"><thead><tr><th>Run</th><th>Type</th><th>Status</th><th>Started</th><th>By</th></tr></thead><tbody>\(rows.joined())</tbody></table>")
        """
        return HTML.page(title: "Cutover runs", refresh: refreshSeconds(manager), signedIn: true, body: body)
    }

    static func cutoverPage(_ manager: SyncManager, id: String) async -> String {
        var report: JSONValue?
        if let run = await manager.cutoverRun(id: id) {
            report = try? JSONValue.from(run)
        } else if let entries = try? await manager.journal.recent(limit: 100_000, source: nil, kind: "cutover"),
                  let entry = entries.first(where: { $0.action == "finish" && $0.detail?["id"] == .string(id) }) {
            report = entry.detail?["report"]
        }
        guard let report else {
            return HTML.page(title: "Unknown run", refresh: nil, signedIn: true, body: "<h1>No cutover run \(HTML.escape(id))</h1>")
        }
        func text(_ value: JSONValue?) -> String {
            switch value {
            case let .string(text)?: text
            case let .number(number)?: String(format: "%.1f", number)
            case let .bool(flag)?: flag ? "yes" : "no"
            default: "—"
            }
        }
        var rows: [String] = []
        if case let .array(sources)? = report["sources"] {
            for source in sources {
                var reasons: [String] = []
                if case let .array(items)? = source["gate_reasons"] { reasons = items.map { text($0) } }
                rows.append("<tr><td>\(HTML.escape(text(source["source"])))</td><td>\(HTML.escape(text(source["stage"])))</td><td>\(HTML.escape(text(source["status"])))</td><td>\(HTML.escape(text(source["phase"])))</td><td class=\"num\">\(HTML.escape(text(source["seconds"])))</td><td>\(HTML.escape(text(source["reason"])))\(reasons.isEmpty ? "" : "<ul>" + reasons.map { "<li>\(HTML.escape($0))</li>" }.joined() + "</ul>")</td></tr>")
            }
        }
        let body = """
        <h1>Cutover run \(HTML.escape(id))</h1>
        <p>Status <strong>\(HTML.escape(text(report["status"])))</strong> · drill \(HTML.escape(text(report["drill"]))) · started \(HTML.escape(text(report["started_at"]))) by \(HTML.escape(text(report["actor"]))) · seconds to verdict \(HTML.escape(text(report["seconds_to_verdict"])))</p>
        \(text(report["reason"]) == "—" ? "" : "<p class=\"error\">\(HTML.escape(text(report["reason"])))</p>")
        <p class="muted">Report digest (SHA-256): <code>\(HTML.escape(text(report["report_sha256"])))</code></p>
        <table id="cutover-sources"><thead><tr><th>Source</th><th>Stage</th><th>Status</th><th>Phase</th><th>Seconds</th><th>Reason</th></tr></thead><tbody>\(rows.joined())</tbody></table>
        """
        return HTML.page(title: "Cutover \(id)", refresh: refreshSeconds(manager), signedIn: true, body: body)
    }

    // MARK: plumbing

    static func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        respond(text, contentType: "text/html; charset=utf-8", cache: "no-store", status: status)
    }

    static func respond(_ text: String, contentType: String, cache: String, status: HTTPResponse.Status = .ok) -> Response {
        var buffer = ByteBuffer()
        buffer.writeString(text)
        return Response(status: status, headers: [
            .contentType: contentType, .cacheControl: cache,
            // Nothing but syncd's own stylesheet and inline SVG: no script runs, nothing is framed.
            contentSecurityPolicy: "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            noSniff: "nosniff", referrerPolicy: "no-referrer",
        ], body: .init(byteBuffer: buffer))
    }

    static let contentSecurityPolicy = HTTPField.Name("Content-Security-Policy")!
    static let noSniff = HTTPField.Name("X-Content-Type-Options")!
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!

    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"])
    }

    /// One field of an application/x-www-form-urlencoded body.
    static func formField(_ name: String, in body: String) -> String? {
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, parts[0] == name else { continue }
            return String(parts[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
        }
        return nil
    }
}
