import Foundation
import Testing

/// The status page in a real browser: headless Chromium (integration/ui-browser-check.py drives it
/// over the DevTools protocol) against a syncd over TLS with real sources, one of them a Redis
/// pair whose only difference is a key named like a script.
extension BinaryTests {
    @Test("status page in headless Chromium: sign-in form, wrong token refused, gate banner, one row and one SVG per source, the hostile key shown as text, HttpOnly SameSite=Strict Secure cookie, sign-out; page views are not gate decisions")
    func statusPageInABrowser() async throws {
        let password = environment["SYNCD_REDIS_PASSWORD"] ?? "syncd-demo-password"
        try password.write(to: directory.appendingPathComponent("redis.password"), atomically: true, encoding: .utf8)
        let cli = { (port: String) in "REDISCLI_AUTH='\(password)' redis-cli -h 127.0.0.1 -p \(port) --no-auth-warning -n 14" }
        let primaryPort = environment["SYNCD_REDIS_PRIMARY_PORT"] ?? "26379"
        let drPort = environment["SYNCD_REDIS_INDEPENDENT_PORT"] ?? "26381"
        let hostile = "<script>alert(1)</script>"
        #expect(try await shell("\(cli(primaryPort)) FLUSHDB && \(cli(drPort)) FLUSHDB && \(cli(primaryPort)) SET '\(hostile)' x && \(cli(primaryPort)) SET plain v && \(cli(drPort)) SET plain v && for n in $(seq 1 60); do \(cli(primaryPort)) SET only-primary-$n v >/dev/null; done").status == 0)
        try (config(port: "25433") + """

          - name: cache
            kind: redis
            mode: independent
            databases: [14]
            primary: {host: 127.0.0.1, port: \(primaryPort), user: syncd, password: {file: redis.password}}
            dr: {host: 127.0.0.1, port: \(drPort), user: syncd, password: {file: redis.password}}
        """).write(to: directory.appendingPathComponent("syncd.yaml"), atomically: true, encoding: .utf8)
        let pid = try await startSyncd()
        defer { kill(pid, SIGKILL) }
        let verify = try await syncctl("verify --source cache", token: "admin")
        #expect(verify.status == 1, "the hostile key is missing on the DR side: \(verify.stdout) \(verify.stderr)")

        // What a page view must not change: the journal and the gate-decision counter.
        func counters() async throws -> (journal: String, decisions: String) {
            let journal = try await syncctl("journal --kind gate --limit 10000 --json")
            let metrics = try await shell("curl -s --cacert \(certs)/ca.pem -H 'Authorization: Bearer read-token-\(port)-0123456789' https://127.0.0.1:\(port)/metrics")
            let decisions = metrics.stdout.split(separator: "\n").filter { $0.hasPrefix("syncd_gate_decisions_total") }.joined(separator: "\n")
            return (String(journal.stdout.count), decisions)
        }
        let before = try await counters()

        let spki = try await shell("openssl x509 -in \(certs)/server.pem -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64")
        let screenshot = Self.repository.appendingPathComponent(".build/status-page.png").path
        let run = try await shell("timeout 150 /opt/syncd-venv/bin/python \(Self.repository.path)/integration/ui-browser-check.py https://127.0.0.1:\(port) read-token-\(port)-0123456789 cache \(screenshot) --spki \(spki.stdout.trimmingCharacters(in: .whitespacesAndNewlines))")
        #expect(run.status == 0, "\(run.stdout) \(run.stderr.suffix(3000))")
        let found = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any] ?? [:]

        let after = try await counters()
        #expect(after.decisions == before.decisions, "page views are not gate decisions: \(before.decisions) -> \(after.decisions)")
        #expect(after.journal == before.journal, "page views are not journaled")

        #expect(found["unsigned_path"] as? String == "/ui/login", "without a session the page asks to sign in: \(found)")
        #expect(found["wrong_token_path"] as? String == "/ui/login" && (found["wrong_token_error"] as? String)?.contains("not accepted") == true, "\(found)")
        #expect(found["cookie_after_wrong_token"] as? Bool == false)
        #expect(found["signed_in_path"] as? String == "/")
        let gate = try await shell("curl -s -o /dev/null -w '%{http_code}' --cacert \(certs)/ca.pem -H 'Authorization: Bearer read-token-\(port)-0123456789' https://127.0.0.1:\(port)/v1/gate")
        let gateFails = gate.stdout == "503"
        #expect((found["gate_text"] as? String)?.contains(gateFails ? "GATE FAIL" : "GATE PASS") == true, "banner as the gate says (\(gate.stdout)): \(found["gate_text"] ?? "none")")
        #expect((found["gate_text"] as? String)?.contains("cache") == true, "the banner names why: \(found["gate_text"] ?? "none")")
        #expect((found["summary"] as? String)?.contains("of 3 sources in sync") == true, "\(found["summary"] ?? "none")")
        #expect(found["rows"] as? [String] == ["pg-physical", "pg-logical", "cache"], "\(found["rows"] ?? "none")")
        #expect(found["svgs_per_row"] as? [Int] == [1, 1, 1], "\(found["svgs_per_row"] ?? "none")")
        #expect(found["scripts"] as? Int == 0)
        let cookie = found["cookie"] as? [String: Any] ?? [:]
        #expect(cookie["httpOnly"] as? Bool == true && cookie["sameSite"] as? String == "Strict" && cookie["secure"] as? Bool == true, "\(cookie)")
        #expect(found["cookie_readable_by_script"] as? Bool == false)
        #expect((found["diff_keys"] as? [String])?.contains(hostile) == true, "the key shows as text: \(found["diff_keys"] ?? "none")")
        #expect(found["source_scripts"] as? Int == 0 && found["alert_dialogs"] as? Int == 0, "no script from the key runs")
        #expect((found["charts"] as? [String])?.count == 2)
        let labels = found["chart_labels"] as? [String] ?? []
        #expect(labels.contains("seconds") && labels.contains("bytes per second") && labels.contains("time (before now)"), "\(labels)")
        #expect((found["journal_rows"] as? Int ?? 0) > 0)
        #expect(found["signed_out_path"] as? String == "/ui/login" && found["cookie_after_sign_out"] as? Bool == false)
        let size = (try? FileManager.default.attributesOfItem(atPath: screenshot)[.size] as? Int) ?? 0
        #expect(size > 10_000, "a screenshot of the overview for a person to look at: \(screenshot) (\(size) bytes)")


        // Without a browser: the sign-in form's answers and the page's headers.
        let refused = try await shell("curl -s -o /dev/null -w '%{http_code}' --cacert \(certs)/ca.pem -d token=wrong https://127.0.0.1:\(port)/ui/login")
        #expect(refused.stdout == "401")
        let headers = try await shell("curl -s -D - -o /dev/null --cacert \(certs)/ca.pem -d token=read-token-\(port)-0123456789 https://127.0.0.1:\(port)/ui/login")
        let setCookie = headers.stdout.lowercased()
        #expect(setCookie.contains("set-cookie: syncd_session=") && setCookie.contains("httponly") && setCookie.contains("samesite=strict")
                && setCookie.contains("secure"), "\(headers.stdout)")
        #expect(!headers.stdout.contains("read-token-\(port)"), "the cookie never holds the token")

        // Differences are paged; cutover runs and their reports have pages of their own.
        let jar = directory.appendingPathComponent("cookies.txt").path
        let curl = "curl -s --cacert \(certs)/ca.pem -b \(jar) -c \(jar)"
        #expect(try await shell("\(curl) -o /dev/null -d token=read-token-\(port)-0123456789 https://127.0.0.1:\(port)/ui/login").status == 0)
        let first = try await shell("\(curl) https://127.0.0.1:\(port)/ui/sources/cache")
        #expect(first.stdout.contains("Page 1 of 2") && first.stdout.contains("?page=2"), "61 differences, 50 a page: \(first.stdout.suffix(600))")
        let second = try await shell("\(curl) 'https://127.0.0.1:\(port)/ui/sources/cache?page=2'")
        #expect(second.stdout.contains("Page 2 of 2") && second.stdout.components(separatedBy: "<tr class=\"diff\">").count - 1 == 11, "\(second.stdout.suffix(600))")
        let drill = try await syncctl("cutover --drill --sources cache --json", token: "admin")
        let runID = (try? JSONSerialization.jsonObject(with: Data(drill.stdout.utf8)) as? [String: Any])?["id"] as? String ?? ""
        #expect(!runID.isEmpty, "\(drill.stdout.prefix(400)) \(drill.stderr)")
        let runs = try await shell("\(curl) https://127.0.0.1:\(port)/ui/cutovers")
        #expect(runs.stdout.contains(runID), "\(runs.stdout.suffix(800))")
        let report = try await shell("\(curl) https://127.0.0.1:\(port)/ui/cutovers/\(runID)")
        #expect(report.stdout.contains("id=\"cutover-sources\"") && report.stdout.contains("<td>cache</td>") && report.stdout.contains("Report digest"), "\(report.stdout.suffix(1200))")
        let unsigned = try await shell("curl -s -o /dev/null -w '%{http_code} %{redirect_url}' --cacert \(certs)/ca.pem https://127.0.0.1:\(port)/ui/cutovers")
        #expect(unsigned.stdout.hasPrefix("303") && unsigned.stdout.hasSuffix("/ui/login"), "\(unsigned.stdout)")
    }
}
