import Foundation
import KafkaSource
import ObjectStoreSource
import PostgresClient
import PostgresSource
import RedisSource
import SourceRegistry
import Testing
@testable import SyncCore

private let validYAML = """
listen: 127.0.0.1:8080
tokens:
  read: {env: READ_TOKEN}
  admin: {file: admin.token}
journal: state/journal.sqlite
sources:
  - name: pg-main
    kind: postgres
    primary: {host: 10.0.0.1, user: syncd, password: {env: PG_PASSWORD}, database: orders}
    dr: {host: 10.0.0.2, port: 5433, user: syncd}
"""

private struct Fixture {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("syncd-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try "admin-secret-0123456789\n".write(to: directory.appendingPathComponent("admin.token"), atomically: true, encoding: .utf8)
    }

    func parse(_ yaml: String, environment: [String: String] = ["READ_TOKEN": "read-secret-0123456789", "PG_PASSWORD": "pw"]) throws -> SyncdConfig {
        try ConfigLoader.parse(yaml: yaml, file: "test.yaml", baseDirectory: directory.path, environment: environment,
                               kinds: SourceRegistry.descriptors)
    }

    /// The ConfigError a document raises; fails the test if it parses.
    func error(_ yaml: String, environment: [String: String] = ["READ_TOKEN": "read-secret-0123456789", "PG_PASSWORD": "pw"]) -> ConfigError? {
        do {
            _ = try parse(yaml, environment: environment)
            Issue.record("expected a config error")
            return nil
        } catch let error as ConfigError {
            return error
        } catch {
            Issue.record("unexpected error type: \(error)")
            return nil
        }
    }
}

@Suite struct ConfigTests {
    @Test func validConfigGetsPerKindDefaultsAndResolvedSecrets() throws {
        let fixture = try Fixture()
        let config = try fixture.parse(validYAML)
        #expect(config.listenHost == "127.0.0.1")
        #expect(config.listenPort == 8080)
        #expect(config.readToken.value == "read-secret-0123456789")
        #expect(config.adminToken.value == "admin-secret-0123456789")  // trailing newline trimmed
        #expect(config.journalPath == fixture.directory.appendingPathComponent("state/journal.sqlite").path)
        let source = try #require(config.sources.first)
        #expect(source.kind == .postgres)
        #expect(source.pollIntervalSeconds == 1)
        #expect(source.policy.lagBudgetSeconds == 30)
        #expect(source.policy.ratioThreshold == 0.99999)
        #expect(source.primary.port == 5432)
        #expect(source.primary.database == "orders")
        #expect(source.primary.password?.value == "pw")
        #expect(source.dr.port == 5433)
        #expect(source.dr.password == nil)
        #expect(source.postgres?.mode == .auto)
        #expect(source.pollTimeoutSeconds == 5)
        #expect(source.policy.sampleMaxAgeSeconds == 6, "freshness is one poll interval plus poll_timeout")
    }

    @Test("poll_timeout defaults per kind and bounds the gate's freshness limit",
          arguments: [(SourceKind.postgres, 5.0), (.redis, 5), (.kafka, 10), (.objectStore, 60)])
    func pollTimeoutDefaults(kind: SourceKind, seconds: Double) throws {
        let descriptor = try #require(SourceRegistry.descriptors.first { $0.kind == kind })
        #expect(descriptor.defaults.pollTimeoutSeconds == seconds)
    }

    @Test func theRegistryKnowsEachKindOnce() {
        let names = SourceRegistry.descriptors.map(\.kind.rawValue)
        #expect(names == ["postgres", "redis", "kafka", "s3"])
    }

    @Test func pollTimeoutIsReadAndSetsTheFreshnessLimit() throws {
        let source = try #require(try Fixture().parse(validYAML + "\n    poll_interval: 2s\n    poll_timeout: 1500ms\n").sources.first)
        #expect(source.pollTimeoutSeconds == 1.5)
        #expect(source.policy.sampleMaxAgeSeconds == 3.5)
        let error = try Fixture().error(validYAML + "\n    poll_timeout: soon\n")
        #expect(error?.keyPath == "sources[0].poll_timeout", "\(String(describing: error))")
    }

    @Test func secretsNeverPrint() throws {
        let config = try Fixture().parse(validYAML)
        #expect("\(config.readToken)" == "<redacted>")
        #expect(!"\(config)".contains("read-secret-0123456789"))
        #expect(!"\(config)".contains("admin-secret-0123456789"))
    }

    @Test func explicitSettingsOverrideDefaults() throws {
        let yaml = validYAML + """

            poll_interval: 250ms
            lag_budget: 2m
            check_max_age: 1h
            ratio_threshold: 1.0
            mode: logical
            subscription: orders_sub
        """
        let source = try #require(try Fixture().parse(yaml).sources.first)
        #expect(source.pollIntervalSeconds == 0.25)
        #expect(source.policy.lagBudgetSeconds == 120)
        #expect(source.policy.checkMaxAgeSeconds == 3600)
        #expect(source.policy.ratioThreshold == 1.0)
        #expect(source.postgres == PostgresOptions(mode: .logical, subscription: "orders_sub"))
    }

    @Test("check_concurrency: 4 unless set")
    func checkConcurrency() throws {
        #expect(try Fixture().parse(validYAML).sources[0].postgres?.checkConcurrency == 4)
        let set = try Fixture().parse(validYAML.replacingOccurrences(of: "    kind: postgres", with: "    kind: postgres\n    check_concurrency: 8"))
        #expect(set.sources[0].postgres?.checkConcurrency == 8)
    }

    @Test("the service's cutover settings: defaults, and what a file sets")
    func cutoverSettings() throws {
        let defaults = try Fixture().parse(validYAML)
        #expect(defaults.cutoverConcurrency == 4 && defaults.lagSummaryIntervalSeconds == 60 && defaults.exposureWindowSeconds == 86_400)
        let yaml = validYAML.replacingOccurrences(of: "journal:", with: "cutover_concurrency: 2\nlag_summary_interval: 30s\nexposure_window: 168h\njournal:")
        let set = try Fixture().parse(yaml)
        #expect(set.cutoverConcurrency == 2 && set.lagSummaryIntervalSeconds == 30 && set.exposureWindowSeconds == 7 * 86_400)
    }

    struct InvalidCase: Sendable, CustomTestStringConvertible {
        let label: String
        let replace: String
        let with: String
        let keyPath: String
        let message: String
        var testDescription: String { label }
    }

    static let invalidCases: [InvalidCase] = [
        InvalidCase(label: "heartbeat table outside independent mode", replace: "    kind: postgres", with: "    kind: postgres\n    heartbeat_table: hb",
                    keyPath: "sources[0].heartbeat_table", message: "heartbeat_table is for mode: independent"),
        InvalidCase(label: "check concurrency out of range", replace: "    kind: postgres", with: "    kind: postgres\n    check_concurrency: 0",
                    keyPath: "sources[0].check_concurrency", message: "out of range 1...32"),
        InvalidCase(label: "unknown postgres mode", replace: "    kind: postgres", with: "    kind: postgres\n    mode: mirrored",
                    keyPath: "sources[0].mode", message: "unknown mode 'mirrored' (known: auto, physical, logical, independent)"),
        InvalidCase(label: "unknown top-level key", replace: "journal:", with: "jounral:", keyPath: "jounral",
                    message: "unknown key 'jounral'"),
        InvalidCase(label: "unknown source key", replace: "    kind: postgres", with: "    kind: postgres\n    lag_budjet: 5s",
                    keyPath: "sources[0].lag_budjet", message: "unknown key 'lag_budjet'"),
        InvalidCase(label: "wrong type", replace: "port: 5433", with: "port: fifty", keyPath: "sources[0].dr.port",
                    message: "expected an integer, got 'fifty'"),
        InvalidCase(label: "port out of range", replace: "port: 5433", with: "port: 70000", keyPath: "sources[0].dr.port",
                    message: "out of range"),
        InvalidCase(label: "missing field", replace: "    dr: {host: 10.0.0.2, port: 5433, user: syncd}", with: "",
                    keyPath: "sources[0]", message: "missing required key 'dr'"),
        InvalidCase(label: "unknown kind", replace: "kind: postgres", with: "kind: mongodb", keyPath: "sources[0].kind",
                    message: "unknown kind 'mongodb'"),
        InvalidCase(label: "unreadable secret file", replace: "{file: admin.token}", with: "{file: missing.token}",
                    keyPath: "tokens.admin.file", message: "cannot read secret file"),
        InvalidCase(label: "unset environment variable", replace: "{env: PG_PASSWORD}", with: "{env: NOT_SET_ANYWHERE}",
                    keyPath: "sources[0].primary.password.env", message: "environment variable NOT_SET_ANYWHERE is not set"),
        InvalidCase(label: "inline secret", replace: "{env: READ_TOKEN}", with: "hunter2", keyPath: "tokens.read",
                    message: "inline values are not accepted"),
        InvalidCase(label: "bad duration", replace: "    kind: postgres", with: "    kind: postgres\n    poll_interval: soon",
                    keyPath: "sources[0].poll_interval", message: "expected a duration"),
        InvalidCase(label: "ratio above one", replace: "    kind: postgres", with: "    kind: postgres\n    ratio_threshold: 1.5",
                    keyPath: "sources[0].ratio_threshold", message: "at most 1"),
        InvalidCase(label: "bad listen address", replace: "127.0.0.1:8080", with: "localhost", keyPath: "listen",
                    message: "expected host:port"),
        InvalidCase(label: "bad mode", replace: "    kind: postgres", with: "    kind: postgres\n    mode: sideways",
                    keyPath: "sources[0].mode", message: "unknown mode 'sideways'"),
        InvalidCase(label: "exposure window shorter than the summary interval", replace: "journal:",
                    with: "lag_summary_interval: 5m\nexposure_window: 1m\njournal:", keyPath: "exposure_window",
                    message: "shorter than lag_summary_interval"),
        InvalidCase(label: "bad lag summary interval", replace: "journal:", with: "lag_summary_interval: often\njournal:",
                    keyPath: "lag_summary_interval", message: "expected a duration"),
        InvalidCase(label: "source name unsafe in URLs", replace: "name: pg-main", with: "name: pg main/1", keyPath: "sources[0].name",
                    message: "may contain only"),
        InvalidCase(label: "source name '.'", replace: "name: pg-main", with: "name: '.'", keyPath: "sources[0].name",
                    message: "is a path step in a URL"),
        InvalidCase(label: "source name '..'", replace: "name: pg-main", with: "name: '..'", keyPath: "sources[0].name",
                    message: "is a path step in a URL"),
        InvalidCase(label: "a poll interval past any clock", replace: "    kind: postgres", with: "    kind: postgres\n    poll_interval: 9999999999999h",
                    keyPath: "sources[0].poll_interval", message: "is longer than the 1h this key allows"),
        InvalidCase(label: "a lag budget past any clock", replace: "    kind: postgres", with: "    kind: postgres\n    lag_budget: 1e300s",
                    keyPath: "sources[0].lag_budget", message: "is longer than the 3650d this key allows"),
        InvalidCase(label: "a connect timeout past any clock", replace: "user: syncd}", with: "user: syncd, connect_timeout: 99999999999999h}",
                    keyPath: "sources[0].dr.connect_timeout", message: "is longer than the 10m this key allows"),
        InvalidCase(label: "one token for both roles", replace: "{file: admin.token}", with: "{env: READ_TOKEN}", keyPath: "tokens.admin",
                    message: "an admin token is also a read token"),
        InvalidCase(label: "a rotated admin list holding the read token", replace: "{file: admin.token}",
                    with: "[{file: admin.token}, {env: READ_TOKEN}]", keyPath: "tokens.admin",
                    message: "an admin token is also a read token"),
        InvalidCase(label: "a short token", replace: "{env: READ_TOKEN}", with: "{env: PG_PASSWORD}", keyPath: "tokens.read",
                    message: "the token is 2 character(s) long; a token needs at least 16"),
        InvalidCase(label: "a token listed twice", replace: "{env: READ_TOKEN}", with: "[{env: READ_TOKEN}, {env: READ_TOKEN}]",
                    keyPath: "tokens.read[1]", message: "listed twice"),
        InvalidCase(label: "an empty token list", replace: "{env: READ_TOKEN}", with: "[]", keyPath: "tokens.read",
                    message: "must not be empty"),
        InvalidCase(label: "a directory as a secret file", replace: "{file: admin.token}", with: "{file: .}",
                    keyPath: "tokens.admin.file", message: "is a directory, not a file"),
        InvalidCase(label: "a journal inside a file", replace: "journal: state/journal.sqlite", with: "journal: admin.token/journal.sqlite",
                    keyPath: "journal", message: "admin.token is not a directory"),
        InvalidCase(label: "a directory as the journal", replace: "journal: state/journal.sqlite", with: "journal: .",
                    keyPath: "journal", message: "is a directory; give the path of the journal file"),
    ]

    @Test(arguments: invalidCases)
    func invalidConfigNamesFileKeyAndProblem(_ invalid: InvalidCase) throws {
        let yaml = validYAML.replacingOccurrences(of: invalid.replace, with: invalid.with)
        #expect(yaml != validYAML, "the case must change the document")
        let error = try #require(try Fixture().error(yaml))
        #expect(error.file == "test.yaml")
        #expect(error.keyPath == invalid.keyPath)
        #expect(error.message.contains(invalid.message), "message was: \(error.message)")
        #expect(error.description.hasPrefix("test.yaml"))
    }

    @Test("journal_retention: 90 days by default, any duration from a day and the exposure window up, or forever")
    func journalRetention() throws {
        #expect(try Fixture().parse(validYAML).journalRetentionSeconds == 90 * 86_400)
        let year = validYAML.replacingOccurrences(of: "journal:", with: "journal_retention: 400d\njournal:")
        #expect(try Fixture().parse(year).journalRetentionSeconds == 400 * 86_400)
        let forever = validYAML.replacingOccurrences(of: "journal:", with: "journal_retention: forever\njournal:")
        #expect(try Fixture().parse(forever).journalRetentionSeconds == nil)
        let short = validYAML.replacingOccurrences(of: "journal:", with: "journal_retention: 1h\njournal:")
        let error = try #require(try Fixture().error(short))
        #expect(error.keyPath == "journal_retention" && error.message.contains("at least a day"), "\(error)")
    }

    @Test("tls: cert and key required, client_ca optional, paths relative to the config, each a readable file")
    func tlsFiles() throws {
        let fixture = try Fixture()
        for name in ["api.pem", "api.key", "clients.pem"] {
            try "x".write(to: fixture.directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        #expect(try fixture.parse(validYAML).tls == nil)
        let tls = try #require(try fixture.parse(validYAML + "\ntls: {cert: api.pem, key: api.key, client_ca: clients.pem}").tls)
        #expect(tls.cert.path == fixture.directory.appendingPathComponent("api.pem").path)
        #expect(tls.clientCA?.path == fixture.directory.appendingPathComponent("clients.pem").path)
        #expect(tls.key.problem("bad").description.hasPrefix("test.yaml:11: tls.key: \(tls.key.path): bad"), "\(tls.key.problem("bad"))")
        #expect(try fixture.parse(validYAML + "\ntls: {cert: api.pem, key: api.key}").tls?.clientCA == nil)

        let noKey = try #require(fixture.error(validYAML + "\ntls: {cert: api.pem}"))
        #expect(noKey.keyPath == "tls" && noKey.message.contains("missing required key 'key'"), "\(noKey)")
        let unknown = try #require(fixture.error(validYAML + "\ntls: {cert: api.pem, key: api.key, ca: x}"))
        #expect(unknown.keyPath == "tls.ca", "\(unknown)")
        let missing = try #require(fixture.error(validYAML + "\ntls: {cert: nope.pem, key: api.key}"))
        #expect(missing.keyPath == "tls.cert" && missing.message.contains("nope.pem") && missing.message.contains("No such file"), "\(missing)")
        let directory = try #require(fixture.error(validYAML + "\ntls: {cert: api.pem, key: ., client_ca: clients.pem}"))
        #expect(directory.keyPath == "tls.key" && directory.message.contains("directory"), "\(directory)")
    }

    @Test("journal: a path (SQLite) or {postgres: {...}} (shared by several instances), with libpq's sslmode")
    func journalLocations() throws {
        let fixture = try Fixture()
        let shared = validYAML.replacingOccurrences(of: "journal: state/journal.sqlite",
                                                    with: "journal: {postgres: {host: db.internal, user: syncd, password: {env: PG_PASSWORD}, sslmode: verify-full}}")
        let config = try fixture.parse(shared)
        guard case let .postgres(endpoint, sslmode) = config.journal else { Issue.record("not a postgres journal: \(config.journal)"); return }
        #expect(endpoint.host == "db.internal" && endpoint.port == 5432 && endpoint.database == "syncd" && endpoint.password?.value == "pw")
        #expect(sslmode == "verify-full" && config.journalPath == nil)
        #expect(config.journal.description == "postgresql://syncd@db.internal:5432/syncd", "no password in the description")
        let cases: [(String, String, String)] = [
            ("{postgres: {host: h}}", "journal.postgres", "missing required key 'user'"),
            ("{postgres: {host: h, user: u, sslmode: maybe}}", "journal.postgres.sslmode", "unknown sslmode 'maybe'"),
            ("{mysql: {host: h}}", "journal.mysql", "unknown key 'mysql'"),
            ("{postgres: {host: h, user: u, password: inline}}", "journal.postgres.password", "inline values are not accepted"),
        ]
        for (value, key, words) in cases {
            let error = try #require(fixture.error(validYAML.replacingOccurrences(of: "journal: state/journal.sqlite", with: "journal: \(value)")))
            #expect(error.keyPath == key && error.message.contains(words), "\(value): \(error)")
        }
    }

    @Test("table_rules: per schema.table, exclude_columns, where, float_digits and timestamp_precision, each checked")
    func postgresTableRules() throws {
        let fixture = try Fixture()
        let rules = validYAML + "\n    table_rules:\n      public.orders: {exclude_columns: [synced_at], where: \"tenant <> 2\", float_digits: 6, timestamp_precision: second}"
        let parsed = try #require(try fixture.parse(rules).sources[0].postgres?.tableRules.first)
        #expect(parsed == TableRule(table: "public.orders", excludeColumns: ["synced_at"], rowFilter: "tenant <> 2", floatDigits: 6, timestampPrecision: "second"))
        let cases: [(String, String, String)] = [
            ("\n    table_rules: {orders: {where: x}}", "sources[0].table_rules.orders", "schema.table"),
            ("\n    table_rules: {public.orders: {timestamp_precision: fortnight}}", "sources[0].table_rules.public.orders.timestamp_precision", "expected one of millisecond"),
            ("\n    table_rules: {public.orders: {float_digits: 99}}", "sources[0].table_rules.public.orders.float_digits", "out of range"),
            ("\n    table_rules: {public.orders: {exclude: [a]}}", "sources[0].table_rules.public.orders.exclude", "unknown key 'exclude'"),
        ]
        for (extra, key, words) in cases {
            let error = try #require(fixture.error(validYAML + extra))
            #expect(error.keyPath == key && error.message.contains(words), "\(extra): \(error)")
        }
    }

    @Test("check_interval schedules checks, with an optional check_window in time_zone; both need the interval")
    func checkSchedules() throws {
        let fixture = try Fixture()
        #expect(try fixture.parse(validYAML).sources[0].checkSchedule == nil)
        let scheduled = validYAML + "\n    check_interval: 10m\n    check_window: \"22:00-02:00\"\n    time_zone: Europe/Berlin"
        let schedule = try #require(try fixture.parse(scheduled).sources[0].checkSchedule)
        #expect(schedule.intervalSeconds == 600 && schedule.window?.description == "22:00-02:00" && schedule.timeZone.identifier == "Europe/Berlin")
        #expect(try fixture.parse(validYAML + "\n    check_interval: 1h").sources[0].checkSchedule?.zoneName == "UTC")

        let cases: [(String, String, String)] = [
            ("\n    check_window: 01:00-05:00", "sources[0].check_window", "needs check_interval"),
            ("\n    check_interval: 1h\n    check_window: 1-5", "sources[0].check_window", "HH:MM-HH:MM"),
            ("\n    check_interval: 1h\n    time_zone: Mars/Olympus", "sources[0].time_zone", "unknown time zone 'Mars/Olympus'"),
            ("\n    check_interval: 90d", "sources[0].check_interval", "longer than the 30d"),
            ("\n    check_interval: 0s", "sources[0].check_interval", "greater than zero"),
        ]
        for (extra, key, words) in cases {
            let error = try #require(fixture.error(validYAML + extra))
            #expect(error.keyPath == key && error.message.contains(words), "\(extra): \(error)")
        }
    }

    @Test("several tokens per role (rotation): each accepted, the first used by local calls")
    func rotatedTokens() throws {
        let yaml = validYAML.replacingOccurrences(of: "  read: {env: READ_TOKEN}", with: "  read: [{env: READ_TOKEN}, {env: NEXT_TOKEN}]")
        let config = try Fixture().parse(yaml, environment: ["READ_TOKEN": "read-secret-0123456789", "NEXT_TOKEN": "next-read-secret-0123456789", "PG_PASSWORD": "pw"])
        #expect(config.readTokens.map(\.value) == ["read-secret-0123456789", "next-read-secret-0123456789"])
        #expect(config.readToken.value == "read-secret-0123456789" && config.adminTokens.count == 1)
    }

    @Test func duplicateSourceNamesAreRejected() throws {
        let source = validYAML.components(separatedBy: "sources:\n")[1]
        let error = try #require(try Fixture().error(validYAML + "\n" + source))
        #expect(error.keyPath == "sources[1].name")
        #expect(error.message.contains("duplicate source name 'pg-main'"))
    }

    @Test func errorsCarryTheLineNumber() throws {
        let yaml = validYAML.replacingOccurrences(of: "port: 5433", with: "port: fifty")
        let error = try #require(try Fixture().error(yaml))
        #expect(error.line == 10)
        #expect(error.description.hasPrefix("test.yaml:10: sources[0].dr.port:"))
    }

    @Test func malformedYAMLAndMissingFileAreConfigErrors() throws {
        let malformed = try #require(try Fixture().error("listen: [unclosed"))
        #expect(malformed.message.contains("not valid YAML"))
        #expect(throws: ConfigError.self) { try SourceRegistry.loadConfig(file: "/nonexistent/syncd.yaml") }
    }
}

private let redisYAML = """
listen: 127.0.0.1:8080
tokens:
  read: {env: READ_TOKEN}
  admin: {file: admin.token}
journal: state/journal.sqlite
sources:
  - name: cache
    kind: redis
    mode: replica
    primary: {host: 10.0.0.1, user: syncd, password: {env: PG_PASSWORD}}
    dr: {host: 10.0.0.2, port: 6380}
"""

@Suite struct RedisConfigTests {
    @Test func redisSourcesGetRedisDefaults() throws {
        let source = try #require(try Fixture().parse(redisYAML).sources.first)
        #expect(source.kind == .redis)
        #expect(source.pollIntervalSeconds == 0.5)
        #expect(source.policy.lagBudgetSeconds == 5)
        #expect(source.primary.port == 6379)
        #expect(source.primary.user == "syncd")
        #expect(source.primary.password?.value == "pw")
        #expect(source.dr.port == 6380)
        #expect(source.redis == RedisOptions(mode: .replica, databases: [0], heartbeatKey: nil, ttlToleranceSeconds: 2))
        #expect(source.postgres == nil)
    }

    @Test func redisOptionsAreRead() throws {
        let yaml = redisYAML.replacingOccurrences(of: "mode: replica", with: "mode: independent\n    databases: [0, 3]\n    heartbeat_key: syncd:hb\n    ttl_tolerance: 500ms")
        let source = try #require(try Fixture().parse(yaml).sources.first)
        #expect(source.redis == RedisOptions(mode: .independent, databases: [0, 3], heartbeatKey: "syncd:hb", ttlToleranceSeconds: 0.5))
    }

    @Test func aClusterSideIsRead() throws {
        let yaml = redisYAML.replacingOccurrences(of: "mode: replica", with: "mode: independent")
            .replacingOccurrences(of: "dr: {host: 10.0.0.2, port: 6380}", with: "dr: {host: 10.0.0.2, port: 7000, cluster: true, seeds: [\"10.0.0.3:7001\"]}")
        let source = try #require(try Fixture().parse(yaml).sources.first)
        #expect(source.dr.cluster?.seeds.map(\.text) == ["10.0.0.2:7000", "10.0.0.3:7001"])
        #expect(source.primary.cluster == nil)
        let twoDatabases = yaml.replacingOccurrences(of: "mode: independent", with: "mode: independent\n    databases: [0, 1]")
        let error = try #require(try Fixture().error(twoDatabases))
        #expect(error.keyPath == "sources[0].databases" && error.message.contains("database 0 only"), "\(error.keyPath): \(error.message)")
    }

    @Test func aSentinelSideIsRead() throws {
        let yaml = redisYAML.replacingOccurrences(of: "{host: 10.0.0.1,", with: """
            {sentinels: ["10.0.0.5:26379", "10.0.0.6:26380"], master_name: cache-main, sentinel_password: {env: PG_PASSWORD},
            """)
        let source = try #require(try Fixture().parse(yaml).sources.first)
        let sentinel = try #require(source.primary.sentinel)
        #expect(sentinel.sentinels.map(\.text) == ["10.0.0.5:26379", "10.0.0.6:26380"])
        #expect(sentinel.masterName == "cache-main")
        #expect(sentinel.password?.value == "pw")
        #expect(source.primary.user == "syncd" && source.primary.password?.value == "pw", "the data servers' own credentials stay")
        #expect(source.dr.sentinel == nil)
    }

    @Test(arguments: [
        ("mode: replica", "", "sources[0]", "missing required key 'mode'"),
        ("mode: replica", "mode: mirror", "sources[0].mode", "unknown mode 'mirror' (known: replica, independent)"),
        ("mode: replica", "mode: replica\n    databases: [0, 0]", "sources[0].databases", "listed twice"),
        ("mode: replica", "mode: replica\n    databases: [99999]", "sources[0].databases[0]", "out of range"),
        ("mode: replica", "mode: replica\n    tables: [a]", "sources[0].tables", "unknown key 'tables'"),
        ("port: 6380}", "port: 6380, database: app}", "sources[0].dr.database", "unknown key 'database'"),
        ("port: 6380}", "port: 6380, user: ops}", "sources[0].dr.user", "needs a password"),
        ("{host: 10.0.0.1,", "{host: 10.0.0.1, sentinels: [\"s1:26379\"], master_name: m,", "sources[0].primary.host", "exclude each other"),
        ("{host: 10.0.0.1,", "{sentinels: [\"s1:26379\"],", "sources[0].primary", "missing required key 'master_name'"),
        ("{host: 10.0.0.1,", "{sentinels: [], master_name: m,", "sources[0].primary.sentinels", "must not be empty"),
        ("{host: 10.0.0.1,", "{sentinels: [\"s1:26379\", \"s1:26379\"], master_name: m,", "sources[0].primary.sentinels", "listed twice"),
        ("{host: 10.0.0.1,", "{sentinels: [\"s1\"], master_name: m,", "sources[0].primary.sentinels", "expected host:port"),
        ("{host: 10.0.0.1,", "{sentinels: [\"s1:26379\"], master_name: m, sentinel_user: ops,", "sources[0].primary.sentinel_user", "needs a password"),
        ("{host: 10.0.0.1,", "{host: 10.0.0.1, master_name: m,", "sources[0].primary.master_name", "only applies with 'sentinels'"),
        ("{host: 10.0.0.1,", "{host: 10.0.0.1, cluster: true,", "sources[0].mode", "must be mode: independent"),
        ("{host: 10.0.0.1,", "{host: 10.0.0.1, seeds: [\"10.0.0.9:6379\"],", "sources[0].primary.seeds", "only applies with 'cluster: true'"),
        ("{host: 10.0.0.1,", "{host: 10.0.0.1, cluster: true, seeds: [\"10.0.0.1:6379\"],", "sources[0].primary.seeds", "listed twice"),
        ("{host: 10.0.0.1,", "{host: 10.0.0.1, cluster: yes-please,", "sources[0].primary.cluster", "expected true or false"),
        ("{host: 10.0.0.1,", "{sentinels: [\"s:1\"], master_name: m, cluster: true,", "sources[0].primary.cluster", "exclude each other"),
    ])
    func invalidRedisSettingsAreNamed(_ replace: String, _ with: String, _ keyPath: String, _ message: String) throws {
        let error = try #require(try Fixture().error(redisYAML.replacingOccurrences(of: replace, with: with)))
        #expect(error.keyPath == keyPath)
        #expect(error.message.contains(message), "message was: \(error.message)")
    }
}

private let kafkaYAML = """
listen: 127.0.0.1:8080
tokens:
  read: {env: READ_TOKEN}
  admin: {file: admin.token}
journal: state/journal.sqlite
sources:
  - name: events
    kind: kafka
    mode: mirror
    topics: [orders, payments]
    primary: {bootstrap: "k1:9092, k2:9093"}
    dr: {bootstrap: "dr1:9092"}
"""

@Suite struct KafkaConfigTests {
    @Test func kafkaSourcesGetKafkaDefaults() throws {
        let source = try #require(try Fixture().parse(kafkaYAML).sources.first)
        #expect(source.kind == .kafka)
        #expect(source.pollIntervalSeconds == 2)
        #expect(source.policy.lagBudgetSeconds == 60)
        #expect(source.primary.bootstrap == "k1:9092,k2:9093")
        #expect(source.primary.host == "k1" && source.primary.port == 9092)
        let options = try #require(source.kafka)
        #expect(options.mode == .mirror)
        #expect(options.topics == ["orders", "payments"])
        #expect(options.policy == .identity)
        #expect(options.offsetSyncsTopic == "syncd-offset-syncs.events.internal")
        #expect(options.offsetSyncsCluster == .dr)
        #expect(options.batchSize == 500)
    }

    @Test func mirrorMakerModeDefaultsToItsNamingAndOffsetSyncs() throws {
        let yaml = kafkaYAML.replacingOccurrences(of: "mode: mirror", with: "mode: mirrormaker2\n    source_alias: east\n    separator: _")
        let options = try #require(try Fixture().parse(yaml).sources.first?.kafka)
        #expect(options.policy == .mirrormaker2)
        #expect(options.sourceAlias == "east" && options.separator == "_")
        #expect(options.offsetSyncsTopic == "mm2-offset-syncs.dr.internal")
        #expect(options.offsetSyncsCluster == .primary)
    }

    @Test(arguments: [
        ("mode: mirror", "", "sources[0]", "missing required key 'mode'"),
        ("mode: mirror", "mode: replica", "sources[0].mode", "unknown mode 'replica' (known: mirror, mirrormaker2)"),
        ("topics: [orders, payments]", "", "sources[0]", "give the topics to replicate"),
        ("topics: [orders, payments]", "topics: [a, a]", "sources[0].topics", "listed twice"),
        ("topics: [orders, payments]", "topics: [\"caf\u{00E9}\", \"cafe\u{0301}\"]\n    consumer_groups: [billing, billing]", "sources[0].consumer_groups", "a group is listed twice"),
        ("topics: [orders, payments]", "topics: [a]\n    topic_pattern: x", "sources[0].topic_pattern", "not both"),
        ("topics: [orders, payments]", "topic_pattern: \"(\"", "sources[0].topic_pattern", "not a valid regular expression"),
        ("mode: mirror", "mode: mirror\n    replication_policy: legacy", "sources[0].replication_policy", "unknown replication_policy 'legacy'"),
        ("mode: mirror", "mode: mirror\n    batch_size: 0", "sources[0].batch_size", "out of range"),
        ("mode: mirror", "mode: mirror\n    compression: brotli", "sources[0].compression", "unknown compression 'brotli'"),
        ("\"dr1:9092\"}", "\"dr1\"}", "sources[0].dr.bootstrap", "expected host:port"),
        ("\"dr1:9092\"}", "\"dr1:9092\", user: ops}", "sources[0].dr.user", "needs a password"),
        ("\"dr1:9092\"}", "\"dr1:9092\", host: x}", "sources[0].dr.host", "unknown key 'host'"),
        ("\"dr1:9092\"}", "\"dr1:9092\", sasl_mechanism: GSSAPI}", "sources[0].dr.sasl_mechanism", "unknown sasl_mechanism"),
    ])
    func invalidKafkaSettingsAreNamed(_ replace: String, _ with: String, _ keyPath: String, _ message: String) throws {
        let error = try #require(try Fixture().error(kafkaYAML.replacingOccurrences(of: replace, with: with)))
        #expect(error.keyPath == keyPath)
        #expect(error.message.contains(message), "message was: \(error.message)")
    }
}

private let s3YAML = """
listen: 127.0.0.1:8080
tokens:
  read: {env: READ_TOKEN}
  admin: {file: admin.token}
journal: state/journal.sqlite
sources:
  - name: media
    kind: s3
    mode: managed
    primary: {url: "https://s3.eu-west-1.amazonaws.com", bucket: media-prod, region: eu-west-1, access_key: {env: READ_TOKEN}, secret_key: {env: PG_PASSWORD}}
    dr: {url: "http://10.0.0.9:8333/", bucket: media-dr, addressing: virtual, tls_verify: false}
"""

@Suite struct ObjectStoreConfigTests {
    @Test func s3SourcesGetObjectStoreDefaults() throws {
        let source = try #require(try Fixture().parse(s3YAML).sources.first)
        #expect(source.kind == .objectStore)
        #expect(source.pollIntervalSeconds == 5)
        #expect(source.policy.lagBudgetSeconds == 300)
        #expect(source.primary.host == "s3.eu-west-1.amazonaws.com" && source.primary.port == 443)
        let primary = try #require(source.primary.objectStore)
        #expect(primary.bucket == "media-prod" && primary.region == "eu-west-1" && primary.verifyTLS && !primary.virtualHost)
        #expect(primary.accessKey?.value == "read-secret-0123456789" && primary.secretKey?.value == "pw")
        let dr = try #require(source.dr.objectStore)
        #expect(dr.url == "http://10.0.0.9:8333" && dr.virtualHost && !dr.verifyTLS && dr.region == "us-east-1")
        #expect(source.objectStore == ObjectStoreOptions(mode: .managed))
    }

    @Test func sizesAndOptionsAreRead() throws {
        let yaml = s3YAML.replacingOccurrences(of: "mode: managed", with: "mode: native\n    prefix: photos/\n    content_check: true\n    concurrency: 16\n    multipart_threshold: 1GiB\n    part_size: 64MiB")
        let options = try #require(try Fixture().parse(yaml).sources.first?.objectStore)
        #expect(options == ObjectStoreOptions(mode: .native, prefix: "photos/", contentCheck: true, concurrency: 16, multipartThreshold: 1 << 30, partSize: 64 << 20))
    }

    @Test(arguments: [
        ("mode: managed", "", "sources[0]", "missing required key 'mode'"),
        ("mode: managed", "mode: mirror", "sources[0].mode", "unknown mode 'mirror' (known: native, managed)"),
        ("mode: managed", "mode: managed\n    part_size: 1MiB", "sources[0].part_size", "at least 5MiB"),
        ("mode: managed", "mode: managed\n    part_size: big", "sources[0].part_size", "expected a size"),
        ("mode: managed", "mode: managed\n    content_check: maybe", "sources[0].content_check", "expected true or false"),
        ("bucket: media-dr", "bucket: Media_DR", "sources[0].dr.bucket", "not a valid bucket name"),
        ("url: \"http://10.0.0.9:8333/\"", "url: \"ftp://x\"", "sources[0].dr.url", "expected an http:// or https:// URL"),
        ("addressing: virtual", "addressing: dns", "sources[0].dr.addressing", "unknown addressing 'dns'"),
        ("addressing: virtual", "addressing: virtual, access_key: {env: READ_TOKEN}", "sources[0].dr.access_key", "go together"),
        ("addressing: virtual", "addressing: virtual, host: x", "sources[0].dr.host", "unknown key 'host'"),
    ])
    func invalidObjectStoreSettingsAreNamed(_ replace: String, _ with: String, _ keyPath: String, _ message: String) throws {
        let error = try #require(try Fixture().error(s3YAML.replacingOccurrences(of: replace, with: with)))
        #expect(error.keyPath == keyPath)
        #expect(error.message.contains(message), "message was: \(error.message)")
    }
}

@Suite struct DurationTextTests {
    @Test func parsesOperatorDurations() {
        #expect(DurationText.parse("500ms") == 0.5)
        #expect(DurationText.parse("30s") == 30)
        #expect(DurationText.parse("1.5s") == 1.5)
        #expect(DurationText.parse("5m") == 300)
        #expect(DurationText.parse("1h") == 3600)
        #expect(DurationText.parse("12") == 12)
    }

    @Test("durations print the way an operator writes them, and read back")
    func describesDurations() {
        let cases: [(Double, String)] = [(90 * 86_400, "90d"), (7 * 86_400, "7d"), (86_400, "24h"), (5400, "90m"), (60, "1m"), (45, "45s"), (1.5, "1.5s"), (0.25, "250ms")]
        for (seconds, text) in cases {
            #expect(DurationText.describe(seconds) == text)
            #expect(DurationText.parse(text) == seconds)
        }
    }

    @Test func rejectsNonsense() {
        #expect(DurationText.parse("soon") == nil)
        #expect(DurationText.parse("-5s") == nil)
        #expect(DurationText.parse("5x") == nil)
        #expect(DurationText.parse("") == nil)
    }
}

@Suite struct SQLTextTests {
    @Test func quotesIdentifiersSafely() throws {
        #expect(try SQLText.quoteIdentifier("orders") == "\"orders\"")
        #expect(try SQLText.quoteIdentifier("Mixed Case") == "\"Mixed Case\"")
        #expect(try SQLText.quoteIdentifier("evil\"; DROP TABLE x; --") == "\"evil\"\"; DROP TABLE x; --\"")
        #expect(throws: SQLText.InvalidIdentifier.self) { try SQLText.quoteIdentifier("") }
        #expect(throws: SQLText.InvalidIdentifier.self) { try SQLText.quoteIdentifier("a\0b") }
    }
}
