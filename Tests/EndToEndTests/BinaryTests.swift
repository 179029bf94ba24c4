import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing
import SyncCore

/// Drives the real executables the way an operator or a pipeline does, against the PostgreSQL
/// servers of integration/pg.sh (and the Redis servers of integration/redis.sh).
@Suite(.serialized) struct BinaryTests {
    let binaries = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    let directory: URL
    let port = Int.random(in: 20_000...24_999)  // clear of the test servers' ports (25432+, 26379+, 28333+)
    let environment = ProcessInfo.processInfo.environment
    /// The API serves TLS in every test, with the certificates of integration/certs.sh.
    var certs: String { Self.certificates }

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A CA, a server and a client certificate (and broken ones), made once per test run.
    static let certificates: String = {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("syncd-e2e-certs-\(getpid())").path
        let status = system("bash \(repository.path)/integration/certs.sh make \(directory) >/dev/null")
        precondition(status == 0, "integration/certs.sh make \(directory) failed (\(status))")
        return directory
    }()

    /// The config's first lines: where syncd listens, with TLS.
    var listen: String { "listen: 127.0.0.1:\(port)\ntls: {cert: \(certs)/server.pem, key: \(certs)/server.key}" }
    /// How syncctl reaches that syncd.
    var server: String { "--server https://127.0.0.1:\(port) --cacert \(certs)/ca.pem" }

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("syncd-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try "read-token-\(port)-0123456789\n".write(to: directory.appendingPathComponent("read.token"), atomically: true, encoding: .utf8)
        try "admin-token-\(port)-0123456789\n".write(to: directory.appendingPathComponent("admin.token"), atomically: true, encoding: .utf8)
        try (environment["SYNCD_PG_PASSWORD"] ?? "syncd-demo-password")
            .write(to: directory.appendingPathComponent("pg.password"), atomically: true, encoding: .utf8)
        try config(port: "25433").write(to: directory.appendingPathComponent("syncd.yaml"), atomically: true, encoding: .utf8)
        try config(port: "fifty").write(to: directory.appendingPathComponent("bad.yaml"), atomically: true, encoding: .utf8)
    }

    func config(port standbyPort: String) -> String {
        let host = environment["SYNCD_PG_HOST"] ?? "127.0.0.1"
        func endpoint(_ port: String) -> String {
            "{host: \(host), port: \(port), user: syncd, database: appdb, password: {file: pg.password}}"
        }
        return """
        \(listen)
        tokens:
          read: {file: read.token}
          admin: {file: admin.token}
        journal: journal.sqlite
        sources:
          - name: pg-physical
            kind: postgres
            primary: \(endpoint(environment["SYNCD_PG_PRIMARY_PORT"] ?? "25432"))
            dr: \(endpoint(standbyPort == "25433" ? (environment["SYNCD_PG_STANDBY_PORT"] ?? "25433") : standbyPort))
          - name: pg-logical
            kind: postgres
            primary: \(endpoint(environment["SYNCD_PG_PUBLISHER_PORT"] ?? "25434"))
            dr: \(endpoint(environment["SYNCD_PG_SUBSCRIBER_PORT"] ?? "25435"))
        """
    }

    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs a shell command line on its own queue (Foundation's Process can miss exits in async tests on Linux).
    func shell(_ command: String) async throws -> Run {
        let out = directory.appendingPathComponent("out-\(UUID().uuidString)").path
        let err = directory.appendingPathComponent("err-\(UUID().uuidString)").path
        let status = try await BlockingQueue(label: "test.shell").run { system("\(command) >\(out) 2>\(err)") }
        let stdout = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        let stderr = (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
        return Run(status: (status >> 8) & 0xff, stdout: stdout, stderr: stderr)
    }

    func syncctl(_ arguments: String, token: String = "read", clientFlags: String = "") async throws -> Run {
        try await shell("\(binaries.path)/syncctl \(arguments) \(server) \(clientFlags) --token \(token)-token-\(port)-0123456789")
    }

    /// Starts syncd as a direct child with a clean signal mask (a test thread's mask blocks
    /// SIGTERM and SIGCHLD, which a child would otherwise inherit).
    /// `clientFlags`: what syncctl needs beyond the CA to be let in (a client certificate).
    /// `config` and `apiPort`: another instance's (several instances share a journal).
    func startSyncd(clientFlags: String = "", config: String = "syncd.yaml", apiPort: Int? = nil) async throws -> pid_t {
        let log = directory.appendingPathComponent(config == "syncd.yaml" ? "syncd.log" : "\(config).log").path
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGPIPE, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let arguments = ["\(binaries.path)/syncd", "--config", "\(directory.path)/\(config)"]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid = pid_t()
        let result = posix_spawn(&pid, arguments[0], &actions, &attributes, &argv, environ)
        guard result == 0 else { throw TestFailure("posix_spawn syncd failed: \(String(cString: strerror(result)))") }

        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(30)
        while clock.now < deadline {
            let probe = apiPort.map { "--server https://127.0.0.1:\($0) --cacert \(certs)/ca.pem" } ?? server
            if try await shell("\(binaries.path)/syncctl status \(probe) \(clientFlags) --token read-token-\(port)-0123456789").status == 0 { return pid }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                throw TestFailure("syncd exited at start-up; log:\n" + ((try? String(contentsOfFile: log, encoding: .utf8)) ?? ""))
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        kill(pid, SIGKILL)
        throw TestFailure("syncd did not come up; log:\n" + ((try? String(contentsOfFile: log, encoding: .utf8)) ?? ""))
    }

    /// SIGTERM, then syncd's exit code.
    func stopSyncd(_ pid: pid_t) async throws -> Int32 {
        kill(pid, SIGTERM)
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(20)
        while clock.now < deadline {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                // Exited normally: the exit code; killed by a signal: 128 + signal, as shells report it.
                return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        kill(pid, SIGKILL)
        throw TestFailure("syncd did not stop within 20 s of SIGTERM")
    }

    struct TestFailure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    @Test func invalidConfigExitsWithCodeTwoNamingTheKey() async throws {
        let run = try await shell("\(binaries.path)/syncd --config \(directory.path)/bad.yaml")
        #expect(run.status == 2)
        #expect(run.stderr.contains("bad.yaml:"))
        #expect(run.stderr.contains("sources[0].dr.port: expected an integer, got 'fifty'"), "\(run.stderr)")
        let check = try await shell("\(binaries.path)/syncd --config \(directory.path)/syncd.yaml --check-config")
        #expect(check.status == 0)
        #expect(check.stdout.contains("pg-physical (postgres), pg-logical (postgres)"))
        #expect(!check.stdout.contains("read-token-\(port)"), "secrets are never printed")
    }

    @Test func syncctlExitCodesGracefulStopAndJournalAcrossRestart() async throws {
        let first = try await startSyncd()

        let status = try await syncctl("status")
        #expect(status.status == 0)
        #expect(status.stdout.contains("pg-physical") && status.stdout.contains("physical"), "\(status.stdout)")
        #expect(status.stdout.contains("no consistency check has run"))

        // Until checks exist the gate fails closed: exit 1, in both output forms.
        let gate = try await syncctl("gate --sources pg-physical")
        #expect(gate.status == 1)
        #expect(gate.stdout.contains("gate: FAIL"))
        #expect(gate.stdout.contains("no consistency check has run"))
        let gateJSON = try await syncctl("gate --json")
        #expect(gateJSON.status == 1)
        let verdict = try JSONCoding.decoder.decode(JSONValue.self, from: Data(gateJSON.stdout.utf8))
        #expect(verdict["status"] == .string("fail"))

        // Errors are exit 2 with the API's message.
        let wrongToken = try await syncctl("status", token: "wrong")
        #expect(wrongToken.status == 2)
        #expect(wrongToken.stderr.contains("invalid bearer token (HTTP 401)"))
        let readOnly = try await syncctl("pause --source pg-physical")
        #expect(readOnly.status == 2)
        #expect(readOnly.stderr.contains("needs the admin token (HTTP 403)") || readOnly.stderr.contains("admin token"), "\(readOnly.stderr)")
        let unknown = try await syncctl("drain --source nope", token: "admin")
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("unknown source 'nope'"))
        let usage = try await syncctl("gate --bogus")
        #expect(usage.status == 2)
        let unreachable = try await shell("\(binaries.path)/syncctl status --server http://127.0.0.1:1 --token x")
        #expect(unreachable.status == 2)
        #expect(unreachable.stderr.contains("cannot reach syncd"))

        let drain = try await syncctl("drain --source pg-logical --timeout 20s", token: "admin")
        #expect(drain.status == 0, "\(drain.stderr)")
        #expect(drain.stdout.contains("pg-logical: the DR side reached"))

        #expect(try await stopSyncd(first) == 0, "SIGTERM is a graceful, successful stop")

        // The journal is on disk: a restarted syncd still shows what happened before.
        let second = try await startSyncd()
        let journal = try await syncctl("journal --json --limit 100")
        #expect(journal.status == 0)
        let body = try JSONCoding.decoder.decode(JSONValue.self, from: Data(journal.stdout.utf8))
        guard case let .array(entries)? = body["entries"] else {
            Issue.record("no journal entries: \(journal.stdout)")
            return
        }
        func has(_ kind: String, _ action: String, _ outcome: String) -> Bool {
            entries.contains { $0["kind"] == .string(kind) && $0["action"] == .string(action) && $0["outcome"] == .string(outcome) }
        }
        #expect(has("control", "drain", "ok"))
        #expect(has("gate", "evaluate", "fail"))
        #expect(has("service", "stop", "ok"))
        #expect(entries.filter { $0["kind"] == .string("service") && $0["action"] == .string("start") }.count == 2)
        #expect(try await stopSyncd(second) == 0)
    }

    @Test("SIGHUP re-reads token files: a rotated token works at once, the old one is refused, both journaled; a broken edit keeps the tokens in force")
    func sighupRotatesTokenFiles() async throws {
        let pid = try await startSyncd()
        let readFile = directory.appendingPathComponent("read.token")
        try "rotated-read-token-\(port)-0123456789\n".write(to: readFile, atomically: true, encoding: .utf8)
        kill(pid, SIGHUP)
        func until(_ what: String, _ condition: () async throws -> Bool) async throws {
            let deadline = ContinuousClock.now + .seconds(10)
            while ContinuousClock.now < deadline {
                if try await condition() { return }
                try await Task.sleep(for: .milliseconds(100))
            }
            Issue.record("not within 10 s: \(what)")
        }
        try await until("the old read token is refused") { try await syncctl("status").status == 2 }
        #expect(try await syncctl("status", token: "rotated-read").status == 0, "the new token works without a restart")
        #expect(try await syncctl("status", token: "admin").status == 0, "the admin token is untouched")

        // A token too short is not valid config: syncd keeps what is in force and says so.
        try "short\n".write(to: readFile, atomically: true, encoding: .utf8)
        kill(pid, SIGHUP)
        func reloads() async throws -> [JSONValue] {
            let journal = try await syncctl("journal --json --kind service", token: "admin")
            guard case let .array(entries)? = try JSONCoding.decoder.decode(JSONValue.self, from: Data(journal.stdout.utf8))["entries"] else { return [] }
            return entries.filter { $0["action"] == .string("reload-tokens") }
        }
        try await until("the failed reload is journaled") { try await reloads().contains { $0["outcome"] == .string("error") } }
        #expect(try await syncctl("status", token: "rotated-read").status == 0, "a broken edit locks nobody out")
        let entries = try await reloads()
        #expect(entries.contains { $0["outcome"] == .string("ok") }, "\(entries)")
        guard case let .string(error)? = entries.first(where: { $0["outcome"] == .string("error") })?["detail"]?["error"] else {
            Issue.record("no error detail: \(entries)"); return
        }
        #expect(error.contains("tokens.read: the token is 5 character(s) long") && error.contains("at least 16"), "\(error)")
        #expect(try await stopSyncd(pid) == 0)
        try "read-token-\(port)-0123456789\n".write(to: readFile, atomically: true, encoding: .utf8)
    }

    @Test("syncctl journal verify: intact (exit 0), then an entry edited in the file is named (exit 1); a restarted syncd reports the break (metric, journal entry) and keeps serving")
    func journalChainThroughTheBinaries() async throws {
        let first = try await startSyncd()
        #expect(try await syncctl("gate --sources pg-logical").status != 2)
        let intact = try await syncctl("journal verify")
        #expect(intact.status == 0 && intact.stdout.contains("journal: intact"), "\(intact.stdout) \(intact.stderr)")
        #expect(try await stopSyncd(first) == 0)

        // Someone with file access turns a failed gate verdict into a pass.
        let journal = directory.appendingPathComponent("journal.sqlite").path
        let tamper = try await shell("python3 -c \"import sqlite3; c = sqlite3.connect('\(journal)'); c.execute(\\\"UPDATE journal SET outcome = 'pass' WHERE kind = 'gate'\\\"); c.commit()\"")
        #expect(tamper.status == 0, "\(tamper.stderr)")
        let broken = try await shell("\(binaries.path)/syncctl journal verify --config \(directory.path)/syncd.yaml")
        #expect(broken.status == 1, "\(broken.stdout) \(broken.stderr)")
        #expect(broken.stdout.contains("journal: BROKEN at entry") && broken.stdout.contains("was changed after it was written"), "\(broken.stdout)")

        let second = try await startSyncd()
        let metrics = try await shell("curl -sf --cacert \(certs)/ca.pem -H 'Authorization: Bearer read-token-\(port)-0123456789' https://127.0.0.1:\(port)/metrics")
        #expect(metrics.stdout.contains("syncd_journal_chain_ok 0"), "\(metrics.stdout.prefix(2000))")
        #expect(metrics.stdout.contains("# HELP syncd_journal_chain_ok"))
        // Prometheus's own linter on what /metrics really serves (HELP lines, names, types).
        let lint = try await shell("curl -sf --cacert \(certs)/ca.pem -H 'Authorization: Bearer read-token-\(port)-0123456789' https://127.0.0.1:\(port)/metrics | promtool check metrics")
        #expect(lint.status == 0, "promtool check metrics: \(lint.stdout) \(lint.stderr)")
        let entries = try await syncctl("journal --kind service --json")
        #expect(entries.stdout.contains("\"verify-journal\"") && entries.stdout.contains("\"broken\""), "\(entries.stdout.prefix(2000))")
        #expect(try await syncctl("status").status == 0, "a broken chain does not stop the service")
        #expect(try await stopSyncd(second) == 0)
    }

    @Test func syncctlRunsTheEngineInProcessWithConfig() async throws {
        let config = "--config \(directory.path)/syncd.yaml"
        let status = try await shell("\(binaries.path)/syncctl status \(config)")
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("pg-physical") && (status.stdout.contains("in_sync") || status.stdout.contains("syncing")), "\(status.stdout)")
        #expect(!status.stderr.contains("error"), "a clean in-process run logs no errors: \(status.stderr)")

        // A fresh journal: no check yet, the gate fails closed.
        let before = try await shell("\(binaries.path)/syncctl gate \(config) --sources pg-physical")
        #expect(before.status == 1)
        #expect(before.stdout.contains("no consistency check has run"))

        // A refused operation prints once, without HTTP codes, and what it suggests carries --config.
        let refused = try await shell("\(binaries.path)/syncctl reconcile \(config) --source pg-physical")
        #expect(refused.status == 2)
        let lines = refused.stderr.split(separator: "\n")
        #expect(lines.count == 1, "one line, not a log line and then the error: \(refused.stderr)")
        #expect(!refused.stderr.contains("HTTP"), "\(refused.stderr)")
        #expect(refused.stderr.contains("syncctl verify --config \(directory.path)/syncd.yaml --source pg-physical"), "\(refused.stderr)")

        let verify = try await shell("\(binaries.path)/syncctl verify \(config) --source pg-physical --table public.accounts --json")
        #expect(verify.status == 0, "\(verify.stderr)")
        let result = try JSONCoding.decoder.decode(JSONValue.self, from: Data(verify.stdout.utf8))
        #expect(result["status"] == .string("pass"))
        #expect(result["ratio"] == .number(1))

        // The next process finds that check in the journal, but a one-table check is not the source's check.
        let partialOnly = try await shell("\(binaries.path)/syncctl gate \(config) --sources pg-physical")
        #expect(partialOnly.status == 1, "\(partialOnly.stdout)")
        #expect(partialOnly.stdout.contains("only partial checks"), "\(partialOnly.stdout)")

        let full = try await shell("\(binaries.path)/syncctl verify \(config) --source pg-physical --json")
        #expect(full.status == 0, "\(full.stderr)")
        let after = try await shell("\(binaries.path)/syncctl gate \(config) --sources pg-physical")
        #expect(after.status == 0, "\(after.stdout)")

        let invalid = try await shell("\(binaries.path)/syncctl status --config \(directory.path)/bad.yaml")
        #expect(invalid.status == 2)
        #expect(invalid.stderr.contains("sources[0].dr.port: expected an integer, got 'fifty'"))
    }

    /// `kill -9` in the middle of `reconcile --apply` into an independent Redis DR instance: the
    /// intent was journaled before the first write, so the next start finds it, journals the
    /// unclean stop, and the gate fails on it until a new check passes.
    @Test("kill -9 mid-reconcile: the next start journals the unclean stop and the interrupted reconcile; the gate fails on it until a new check")
    func killedMidReconcile() async throws {
        let host = environment["SYNCD_REDIS_HOST"] ?? "127.0.0.1"
        let password = environment["SYNCD_REDIS_PASSWORD"] ?? "syncd-demo-password"
        let primaryPort = environment["SYNCD_REDIS_PRIMARY_PORT"] ?? "26379", drPort = environment["SYNCD_REDIS_INDEPENDENT_PORT"] ?? "26381"
        func cli(_ port: String) -> String { "REDISCLI_AUTH=\(password) redis-cli -h \(host) -p \(port) --no-auth-warning -n 9" }
        func endpoint(_ port: String) -> String { "{host: \(host), port: \(port), user: syncd, password: {env: SYNCD_REDIS_PASSWORD}}" }
        try """
            \(listen)
            tokens: {read: {file: read.token}, admin: {file: admin.token}}
            journal: journal.sqlite
            sources:
              - name: copy
                kind: redis
                mode: independent
                databases: [9]
                primary: \(endpoint(primaryPort))
                dr: \(endpoint(drPort))
            """.write(to: directory.appendingPathComponent("syncd.yaml"), atomically: true, encoding: .utf8)
        let keys = 40_000
        #expect(try await shell("\(cli(primaryPort)) FLUSHDB && \(cli(drPort)) FLUSHDB").status == 0)
        defer { _ = system("\(cli(primaryPort)) FLUSHDB >/dev/null; \(cli(drPort)) FLUSHDB >/dev/null") }
        let load = try await shell("""
            awk 'BEGIN { for (i = 0; i < \(keys); i++) { k = "e2e:kill:" i; v = "value-" i
              printf "*3\\r\\n$3\\r\\nSET\\r\\n$%d\\r\\n%s\\r\\n$%d\\r\\n%s\\r\\n", length(k), k, length(v), v } }' | \(cli(primaryPort)) --pipe
            """)
        #expect(load.status == 0, "\(load.stdout) \(load.stderr)")

        let first = try await startSyncd()
        let verify = try await syncctl("verify --source copy --full-diff --max-diffs 1000000 --rounds 1 --json", token: "admin")
        #expect(verify.status == 1, "every key is missing on the DR side: \(verify.stderr)")
        let reconcile = Task { try await syncctl("reconcile --source copy --apply", token: "admin") }
        // Kill syncd once the DR side has started to change, before the reconcile ends.
        var copied = 0
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            copied = Int(try await shell("\(cli(drPort)) DBSIZE").stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            if copied > 0 { break }
            try await Task.sleep(for: .milliseconds(5))
        }
        kill(first, SIGKILL)
        var status: Int32 = 0
        waitpid(first, &status, 0)
        _ = try await reconcile.value
        let changed = Int(try await shell("\(cli(drPort)) DBSIZE").stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        #expect(changed > 0 && changed < keys, "killed half-way: \(changed) of \(keys) keys copied")

        let second = try await startSyncd()
        let journal = try await syncctl("journal --json --limit 50")
        let body = try JSONCoding.decoder.decode(JSONValue.self, from: Data(journal.stdout.utf8))
        guard case let .array(entries)? = body["entries"] else { Issue.record("no journal: \(journal.stdout)"); return }
        #expect(entries.contains { $0["kind"] == .string("service") && $0["action"] == .string("unclean-stop") }, "\(journal.stdout.prefix(3000))")
        #expect(entries.contains { $0["kind"] == .string("reconcile") && $0["outcome"] == .string("interrupted") })
        #expect(entries.contains { $0["kind"] == .string("reconcile") && $0["outcome"] == .string("started") }, "the intent was written before the effect")
        let gate = try await syncctl("gate --sources copy")
        #expect(gate.status == 1 && gate.stdout.contains("was interrupted"), "\(gate.stdout)")
        #expect(try await stopSyncd(second) == 0)
    }

    /// The Redis servers of integration/redis.sh through the CLI: a verify that lists what differs
    /// (a key written on the primary while the replica is paused), and reconcile refused on a replica.
    @Test func syncctlVerifiesARedisReplicaAndRefusesToReconcileIntoIt() async throws {
        let host = environment["SYNCD_REDIS_HOST"] ?? "127.0.0.1"
        func endpoint(_ name: String, _ fallback: String) -> String {
            "{host: \(host), port: \(environment["SYNCD_REDIS_\(name)_PORT"] ?? fallback), user: syncd, password: {env: SYNCD_REDIS_PASSWORD}}"
        }
        let yaml = """
            \(listen)
            tokens: {read: {file: read.token}, admin: {file: admin.token}}
            journal: redis-journal.sqlite
            sources:
              - name: cache
                kind: redis
                mode: replica
                primary: \(endpoint("PRIMARY", "26379"))
                dr: \(endpoint("REPLICA", "26380"))
            """
        try yaml.write(to: directory.appendingPathComponent("redis.yaml"), atomically: true, encoding: .utf8)
        let password = environment["SYNCD_REDIS_PASSWORD"] ?? "syncd-demo-password"
        let config = "--config \(directory.path)/redis.yaml"
        let env = "SYNCD_REDIS_PASSWORD=\(password)"
        let primaryPort = environment["SYNCD_REDIS_PRIMARY_PORT"] ?? "26379"
        let cli = "REDISCLI_AUTH=\(password) redis-cli -h \(host) -p \(primaryPort) --no-auth-warning"

        #expect(try await shell("\(env) \(binaries.path)/syncctl pause \(config) --source cache").status == 0)
        #expect(try await shell("\(cli) SET e2e:only-on-primary 1").status == 0)
        let verify = try await shell("\(env) \(binaries.path)/syncctl verify \(config) --source cache --rounds 1")
        #expect(verify.status == 1, "\(verify.stdout) \(verify.stderr)")
        #expect(verify.stdout.contains("e2e:only-on-primary"), "\(verify.stdout)")
        #expect(verify.stdout.contains("missing") && verify.stdout.contains("not on the DR side"), "\(verify.stdout)")

        let reconcile = try await shell("\(env) \(binaries.path)/syncctl reconcile \(config) --source cache")
        #expect(reconcile.status == 2)
        #expect(reconcile.stderr.contains("force a full sync"), "\(reconcile.stderr)")

        #expect(try await shell("\(env) \(binaries.path)/syncctl resume \(config) --source cache").status == 0)
        #expect(try await shell("\(cli) DEL e2e:only-on-primary").status == 0)
    }
}
