import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing
import SyncCore

/// A plan's failure policies, pause_after, and cancellation, on the real servers through syncd.
extension BinaryTests {
    var pgPassword: String { environment["SYNCD_PG_PASSWORD"] ?? "syncd-demo-password" }

    func psql(_ port: String, _ sql: String) async throws -> Run {
        let host = environment["SYNCD_PG_HOST"] ?? "127.0.0.1"
        return try await shell("PGPASSWORD='\(pgPassword)' psql -X -h \(host) -p \(port) -U syncd -d appdb -Atc \"\(sql)\"")
    }

    var pgPrimaryPort: String { environment["SYNCD_PG_PRIMARY_PORT"] ?? "25432" }
    var pgStandbyPort: String { environment["SYNCD_PG_STANDBY_PORT"] ?? "25433" }

    /// pg: the physical standby, one table; cache: the Redis replica; copy: the independent Redis
    /// instance, which lacks a key written to the primary for this test, so its check fails.
    func policyConfig(table: String) -> String {
        let host = environment["SYNCD_PG_HOST"] ?? "127.0.0.1"
        func pg(_ port: String) -> String { "{host: \(host), port: \(port), user: syncd, database: appdb, password: {file: pg.password}}" }
        func redis(_ name: String, _ fallback: String) -> String {
            "{host: 127.0.0.1, port: \(environment["SYNCD_REDIS_\(name)_PORT"] ?? fallback), user: syncd, password: {env: SYNCD_REDIS_PASSWORD}}"
        }
        return """
        \(listen)
        tokens: {read: {file: read.token}, admin: {file: admin.token}}
        journal: policy-journal.sqlite
        sources:
          - name: pg
            kind: postgres
            tables: [\(table)]
            primary: \(pg(pgPrimaryPort))
            dr: \(pg(pgStandbyPort))
          - name: cache
            kind: redis
            mode: replica
            primary: \(redis("PRIMARY", "26379"))
            dr: \(redis("REPLICA", "26380"))
          - name: copy
            kind: redis
            mode: independent
            primary: \(redis("PRIMARY", "26379"))
            dr: \(redis("INDEPENDENT", "26381"))
        """
    }

    /// Validates report files (JSON, or the Markdown of --report) against config/cutover-report.schema.json.
    func expectValidReports(_ paths: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let run = try await shell("/opt/syncd-venv/bin/python \(root.path)/integration/check-report-schema.py " + paths.joined(separator: " "))
        #expect(run.status == 0, "the reports follow the documented schema: \(run.stdout)\(run.stderr)", sourceLocation: sourceLocation)
    }

    /// Polls `check` every 200 ms until it holds, at most `seconds`.
    func eventually(_ seconds: Double, _ what: String, _ check: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        while ContinuousClock.now < deadline {
            if try await check() { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw TestFailure("\(what): not within \(seconds) s")
    }

    func strings(_ value: JSONValue?, _ key: String) -> [String] {
        guard case let .array(items)? = value else { return [] }
        return items.compactMap { if case let .string(text)? = $0[key] { text } else { nil } }
    }

    func runSource(_ run: JSONValue, _ name: String) -> JSONValue? {
        guard case let .array(sources)? = run["sources"] else { return nil }
        return sources.first { $0["source"] == .string(name) }
    }

    @Test("on real servers: a retried source passes on its second attempt, an optional source that fails degrades the run (exit 0), pause_after leaves the Redis replica paused and only it; Ctrl-C cancels a check blocked on a lock and leaves no statement on either server; a terminal gets the in-place board")
    func cutoverPoliciesOnRealServers() async throws {
        let table = "cutover_lock_\(UUID().uuidString.prefix(8).lowercased())"
        let created = try await psql(pgPrimaryPort, "CREATE TABLE \(table) (id int PRIMARY KEY, v text); INSERT INTO \(table) SELECT g, md5(g::text) FROM generate_series(1, 2000) g;")
        #expect(created.status == 0, "\(created.stderr)")
        let marker = "cutover:\(table)"
        let redisPort = environment["SYNCD_REDIS_PRIMARY_PORT"] ?? "26379"
        let redisPassword = environment["SYNCD_REDIS_PASSWORD"] ?? "syncd-demo-password"
        #expect(try await shell("redis-cli -p \(redisPort) --user syncd --pass \(redisPassword) --no-auth-warning SET \(marker) 1").status == 0)
        try policyConfig(table: table).write(to: directory.appendingPathComponent("syncd.yaml"), atomically: true, encoding: .utf8)
        let plan = directory.appendingPathComponent("policy-plan.yaml").path
        try """
        stages:
          - name: all
            sources:
              - source: pg
                on_failure: retry
                retries: 2
                retry_backoff: 5s
              - source: cache
                pause_after: true
              - source: copy
                required: false
        """.write(toFile: plan, atomically: true, encoding: .utf8)

        let pid = try await startSyncd()
        let admin = "\(server) --token admin-token-\(port)-0123456789"
        let ctl = "\(serverEnvironment) \(binaries.path)/syncctl"
        var resumed = false
        defer {
            // Nothing stays paused for the suites after this one, whatever failed here.
            _ = system("\(ctl) resume \(admin) --source pg >/dev/null 2>&1; \(ctl) resume \(admin) --source cache >/dev/null 2>&1")
            kill(pid, SIGTERM)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        func state(_ name: String) async throws -> JSONValue? {
            let status = try await syncctl("status --json")
            let body = try? JSONCoding.decoder.decode(JSONValue.self, from: Data(status.stdout.utf8))
            guard case let .array(sources)? = body?["sources"] else { return nil }
            return sources.first { $0["name"] == .string(name) }?["latest"]?["state"]
        }
        try await eventually(15, "pg reports its standby's state") { try await state("pg") != nil }

        // 1. Retry, degraded, pause_after.
        #expect(try await shell("\(ctl) pause \(admin) --source pg").status == 0)
        async let cutover = shell("\(ctl) cutover \(admin) --plan \(plan) --json --timeout 3m")
        try await eventually(60, "the first attempt at pg fails its drain") {
            let list = try await syncctl("cutover list --json")
            guard let body = try? JSONCoding.decoder.decode(JSONValue.self, from: Data(list.stdout.utf8)),
                  case let .array(runs)? = body["runs"], let run = runs.first, let pg = runSource(run, "pg"),
                  case let .array(phases)? = pg["phases"] else { return false }
            return phases.contains { $0["phase"] == .string("drain") && $0["outcome"] == .string("failed") }
        }
        #expect(try await shell("\(ctl) resume \(admin) --source pg").status == 0)
        let first = try await cutover
        #expect(first.status == 0, "degraded exits 0: \(first.stdout)\n\(first.stderr)")
        let report = try JSONCoding.decoder.decode(JSONValue.self, from: Data(first.stdout.utf8))
        let degradedReport = directory.appendingPathComponent("degraded.json").path
        try first.stdout.write(toFile: degradedReport, atomically: true, encoding: .utf8)
        #expect(report["status"] == .string("degraded"), "\(first.stdout)")
        let pg = try #require(runSource(report, "pg"))
        guard case let .array(pgPhases)? = pg["phases"] else { Issue.record("no phases: \(pg)"); return }
        let drains = pgPhases.filter { $0["phase"] == .string("drain") }
        // Attempt 1 failed on the paused standby; the one after the resume passed.
        #expect(pg["status"] == .string("pass") && pg["attempts"] == .number(Double(drains.count)) && drains.count >= 2, "\(pg)")
        #expect(drains.first?["outcome"] == .string("failed") && drains.last?["outcome"] == .string("ok"), "\(drains)")
        #expect(drains.map { $0["attempt"] } == (1...drains.count).map { .number(Double($0)) })
        #expect(pg["paused"] == .bool(false))
        let cache = try #require(runSource(report, "cache"))
        #expect(cache["status"] == .string("pass") && cache["paused"] == .bool(true), "\(cache)")
        #expect(strings(cache["phases"], "phase").last == "pause")
        let copy = try #require(runSource(report, "copy"))
        #expect(copy["status"] == .string("fail") && copy["paused"] == .bool(false), "\(copy)")
        #expect(strings(copy["phases"], "phase").contains("verify"))

        #expect(try await state("cache") == .string("paused"), "pause_after paused the replica")
        #expect(try await state("pg") != .string("paused"), "the retried source is not left paused")
        let resume = try await shell("\(ctl) resume \(admin) --source cache")
        #expect(resume.status == 0, "\(resume.stdout) \(resume.stderr)")
        resumed = true

        // 2. Ctrl-C while the check waits on a lock: the run is cancelled, journaled, and no statement is left.
        let holder = Task {
            try await psql(pgPrimaryPort, "BEGIN; LOCK TABLE \(table) IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(20);")
        }
        try await eventually(10, "the lock is held") {
            try await psql(pgPrimaryPort, "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = '\(table)' AND l.mode = 'AccessExclusiveLock' AND l.granted").stdout.hasPrefix("1")
        }
        // An unusual timeout finds the process to interrupt (syncctl itself, not the shell around it).
        let tag = "257s"
        let cancelledReport = directory.appendingPathComponent("cancelled.md").path
        async let interrupted = shell("\(ctl) cutover \(admin) --sources pg --report \(cancelledReport) --timeout \(tag)")
        let waiting = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'syncd-check:pg' AND wait_event_type = 'Lock'"
        try await eventually(30, "the check waits on the lock") { try await psql(pgPrimaryPort, waiting).stdout.hasPrefix("1") }
        let signalled = ContinuousClock.now
        #expect(try await shell("pkill -INT -f '^[^ ]*/syncctl cutover .*--timeout \(tag)'").status == 0)
        let cancelled = try await interrupted
        #expect(ContinuousClock.now - signalled < .seconds(8), "Ctrl-C ends the run promptly")
        #expect(cancelled.status == 2, "\(cancelled.stdout)\n\(cancelled.stderr)")
        #expect(cancelled.stdout.contains("CANCELLED") && cancelled.stderr.contains("cancelling cutover"), "\(cancelled.stdout)\n\(cancelled.stderr)")
        let left = "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'syncd-check%' AND state <> 'idle'"
        for side in [pgPrimaryPort, pgStandbyPort] {
            try await eventually(5, "no check statement is left on port \(side)") { try await psql(side, left).stdout.hasPrefix("0") }
        }
        let journal = try await syncctl("journal --kind cutover --json")
        #expect(journal.stdout.contains("\"cancelled\""), "the run is journaled as cancelled: \(journal.stdout)")
        _ = try await psql(pgPrimaryPort, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%LOCK TABLE \(table)%' AND pid <> pg_backend_pid()")
        _ = try? await holder.value

        // 3. On a terminal the board redraws its lines in place.
        let terminal = try await shell("script -qfec \"\(ctl) cutover \(admin) --sources pg --timeout 2m\" /dev/null")
        #expect(terminal.status == 0, "\(terminal.stdout)")
        #expect(terminal.stdout.contains("\r\u{1B}[K") && terminal.stdout.contains("PASS"), "\(terminal.stdout.debugDescription)")
        #expect(resumed)
        try await expectValidReports([degradedReport, cancelledReport])
        _ = try await psql(pgPrimaryPort, "DROP TABLE \(table)")
        _ = try await shell("redis-cli -p \(redisPort) --user syncd --pass \(redisPassword) --no-auth-warning DEL \(marker)")
    }
}
