import ArgumentParser
import CurlClient
import Foundation
import SyncCore
import SyncManager

/// Exit codes pipelines can use (SPEC §5): 0 pass/success, 1 gate fail, 2 error.
@main
struct Syncctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "syncctl",
        abstract: "Operator CLI for syncd: status, gate, verify, pause/resume/drain, journal.",
        discussion: "Exit codes: 0 success or gate pass, 1 gate fail, 2 error.",
        subcommands: [Status.self, Gate.self, Verify.self, Cutover.self, Reconcile.self, Pause.self, Resume.self, Resync.self, Drain.self,
                      JournalCommand.self])

    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as CLIError {
            FileHandle.standardError.write(Data("syncctl: \(error.message)\n".utf8))
            Foundation.exit(2)
        } catch {
            let code = exitCode(for: error)
            if code == .success || code == ExitCode(1) { exit(withError: error) }
            // Usage mistakes are errors too: 2, not ArgumentParser's 64.
            FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
            Foundation.exit(2)
        }
    }
}

struct ClientOptions: ParsableArguments {
    @Option(help: "syncd's API address (default: $SYNCD_SERVER or http://127.0.0.1:8080).")
    var server: String?

    @Option(help: "API bearer token (default: $SYNCD_TOKEN).")
    var token: String?

    @Option(help: "PEM CA bundle that signed syncd's certificate, for an https:// server with a private CA (default: $SYNCD_CACERT).")
    var cacert: String?

    @Option(help: "PEM client certificate, when syncd requires one (mutual TLS) (default: $SYNCD_CERT).")
    var cert: String?

    @Option(help: "PEM private key of --cert (default: $SYNCD_KEY).")
    var key: String?

    @Flag(help: "Print the API's JSON instead of a table.")
    var json = false

    @Option(help: "Run the engine in this process from this syncd config file instead of calling a running syncd.")
    var config: String?

    /// The API to talk to: a running syncd, or (with --config) the same engine in this process.
    func withClient<T: Sendable>(_ body: @escaping @Sendable (APIClient) async throws -> T) async throws -> T {
        if let config { return try await LocalEngine.run(config: config, body) }
        return try await body(try client())
    }

    func client() throws -> APIClient {
        let environment = ProcessInfo.processInfo.environment
        let files = TLSClientFiles(caFile: cacert ?? environment["SYNCD_CACERT"], certFile: cert ?? environment["SYNCD_CERT"],
                                   keyFile: key ?? environment["SYNCD_KEY"])
        let anyFile = files.caFile != nil || files.certFile != nil || files.keyFile != nil
        return try APIClient(server: server ?? environment["SYNCD_SERVER"] ?? "http://127.0.0.1:8080",
                             token: token ?? environment["SYNCD_TOKEN"], tls: anyFile ? files : nil)
    }

    /// Prints the answer; any non-2xx (except the gate's 503) is an error. With --config no HTTP
    /// is involved for the user, so the message carries no status code, and the commands it
    /// suggests carry the same --config.
    func expectOK(_ response: APIResponse) throws -> JSONValue {
        guard (200..<300).contains(response.status) else {
            if json { print(Format.pretty(response.body)) }
            guard let config else { throw CLIError(message: "\(response.errorMessage) (HTTP \(response.status))") }
            throw CLIError(message: Self.suggestingConfig(response.errorMessage, config: config))
        }
        return response.body
    }

    /// "run syncctl verify --source x" becomes "run syncctl verify --config FILE --source x".
    static func suggestingConfig(_ message: String, config: String) -> String {
        let quoted = config.contains(where: { $0 == " " || $0 == "'" || $0 == "\"" }) ? "'\(config.replacingOccurrences(of: "'", with: "'\\''"))'" : config
        var out = ""
        var rest = Substring(message)
        while let range = rest.range(of: "syncctl ") {
            out += rest[..<range.upperBound]
            rest = rest[range.upperBound...]
            let command = rest.prefix { $0.isLetter }
            guard !command.isEmpty else { continue }
            out += command + " --config " + quoted
            rest = rest.dropFirst(command.count)
        }
        return out + rest
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show every source's state, lag, throughput and gate verdict.")
    @OptionGroup var options: ClientOptions

    func run() async throws {
        let body = try options.expectOK(try await options.withClient { try await $0.request("GET", "/v1/status") })
        if options.json { print(Format.pretty(body)); return }
        let sources = try Format.decode(body["sources"] ?? .null, as: [SourceStatus].self)
        let rows = sources.map { source -> [String] in
            let latest = source.latest
            let verdict = source.verdict
            let reasons = verdict.reasons.isEmpty ? verdict.status.rawValue
                : "fail: " + verdict.reasons.map(DisplayText.escape).joined(separator: "; ")
            return [source.name, source.kind.rawValue, latest?.topology ?? "-", latest?.state.rawValue ?? "-",
                    Format.seconds(latest?.lagSeconds), Format.volume(latest?.lagVolume, unit: latest?.unit),
                    Format.rate(latest?.throughput, unit: latest?.unit),
                    Format.checkSummary(source.latestCheck, age: verdict.checkAgeSeconds), reasons]
        }
        print(Format.table(["SOURCE", "KIND", "TOPOLOGY", "STATE", "LAG(s)", "BEHIND", "THROUGHPUT", "CHECK", "GATE"], rows))
        if let clusterBody = body["cluster"], clusterBody != .null {
            let cluster = try Format.decode(clusterBody, as: ClusterStatus.self)
            print("\ninstance \(cluster.instance) is the \(cluster.role)" + (cluster.leader.map { "; leader \($0)" } ?? "; no leader")
                  + (cluster.fencingToken.map { " (fencing token \($0))" } ?? "") + (cluster.journalError.map { "; journal unavailable: \($0)" } ?? ""))
            let instanceRows = cluster.instances.map { [$0.id, $0.site, $0.role, $0.url ?? "-", Format.seconds($0.heartbeatAgeSeconds)] }
            print(Format.table(["INSTANCE", "SITE", "ROLE", "URL", "HEARTBEAT AGE(s)"], instanceRows))
        }
    }
}

struct Gate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Ask the cutover gate. Exit 0 pass, 1 fail, 2 error.")
    @OptionGroup var options: ClientOptions
    @Option(help: "Comma-separated source names (default: all).")
    var sources: String?

    func run() async throws {
        let query = sources.map { ["sources": $0] } ?? [:]
        let response = try await options.withClient { try await $0.request("GET", "/v1/gate/verdict", query: query) }
        let body = try options.expectOK(response)
        let verdict = try Format.decode(body, as: GateVerdict.self)
        print(options.json ? Format.pretty(body) : Format.gate(verdict))
        guard verdict.status == .pass else { throw ExitCode(1) }
    }
}

struct SourceOption: ParsableArguments {
    @Option(help: "The configured source name.")
    var source: String
}

/// pause / resume / drain share one shape: POST, print the outcome.
protocol ControlCommand: AsyncParsableCommand {
    var options: ClientOptions { get }
    var target: SourceOption { get }
    var action: String { get }
    var query: [String: String] { get }
    var requestTimeout: Double { get }
}

extension ControlCommand {
    var query: [String: String] { [:] }
    var requestTimeout: Double { 60 }

    func run() async throws {
        let (path, query, timeout) = ("/v1/sources/\(target.source)/\(action)", self.query, requestTimeout)
        let response = try await options.withClient { try await $0.request("POST", path, query: query, timeout: timeout) }
        let body = try options.expectOK(response)
        if options.json { print(Format.pretty(body)); return }
        let outcome = try Format.decode(body, as: ControlOutcome.self)
        print("\(target.source): \(outcome.message) (state now \(outcome.state?.rawValue ?? "-"))")
    }
}

struct Pause: ControlCommand {
    static let configuration = CommandConfiguration(abstract: "Pause replication to the DR side.")
    @OptionGroup var options: ClientOptions
    @OptionGroup var target: SourceOption
    var action: String { "pause" }
}

struct Resume: ControlCommand {
    static let configuration = CommandConfiguration(abstract: "Resume replication to the DR side.")
    @OptionGroup var options: ClientOptions
    @OptionGroup var target: SourceOption
    var action: String { "resume" }
}

struct Resync: ControlCommand {
    static let configuration = CommandConfiguration(
        abstract: "Force a full sync: re-copy every table of a logical subscription (a physical standby is refused with how to re-clone it).")
    @OptionGroup var options: ClientOptions
    @OptionGroup var target: SourceOption
    var action: String { "full-sync" }
    var requestTimeout: Double { 3700 }
}

struct Drain: ControlCommand {
    static let configuration = CommandConfiguration(
        abstract: "Wait until the DR side has caught up with the primary's position at the moment of the call.")
    @OptionGroup var options: ClientOptions
    @OptionGroup var target: SourceOption
    @Option(help: "How long to wait, e.g. 30s or 5m.")
    var timeout: String = "60s"
    var action: String { "drain" }
    var query: [String: String] { ["timeout": timeout] }
    var requestTimeout: Double { (DurationText.parse(timeout) ?? 60) + 30 }

    func validate() throws {
        guard let seconds = DurationText.parse(timeout), seconds > 0 else {
            throw ValidationError("--timeout must be a duration like 30s or 5m, got '\(timeout)'")
        }
    }
}

struct JournalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "journal", abstract: "Show the audit journal, verify its hash chain, or move it into a shared database.",
        subcommands: [ShowJournal.self, VerifyJournal.self, MigrateJournal.self], defaultSubcommand: ShowJournal.self)
}

/// `syncctl journal verify`: exit 0 when every entry's hash and link check, 1 naming the first
/// that does not (edited, inserted or removed), 2 when it cannot be read.
struct VerifyJournal: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "verify", abstract: "Check the journal's hash chain: exit 0 intact, 1 broken (naming the first bad entry).")
    @OptionGroup var options: ClientOptions

    func run() async throws {
        let body = try options.expectOK(try await options.withClient { try await $0.request("GET", "/v1/journal/verify") })
        let verification = try Format.decode(body, as: JournalVerification.self)
        if options.json {
            print(Format.pretty(body))
        } else if verification.ok {
            print("journal: intact, \(verification.entries) entries" + (verification.checkpointEntry.map { " (from the prune checkpoint, entry \($0))" } ?? "")
                  + "; head entry \(verification.headEntry.map(String.init) ?? "-") hash \(verification.headHash)")
        } else {
            print("journal: BROKEN at entry \(verification.firstBadEntry.map(String.init) ?? "?"): \(verification.problem ?? "unknown problem")")
        }
        if !verification.ok { throw ExitCode(1) }
    }
}

struct ShowJournal: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show the audit journal, newest first (the default).")
    @OptionGroup var options: ClientOptions
    @Option(help: "How many entries.") var limit: Int = 50
    @Option(help: "Only this source.") var source: String?
    @Option(help: "Only this kind: gate, check, reconcile, control, cutover, lag, service.") var kind: String?

    func run() async throws {
        var query = ["limit": String(limit)]
        if let source { query["source"] = source }
        if let kind { query["kind"] = kind }
        let body = try options.expectOK(try await options.withClient { [query] in try await $0.request("GET", "/v1/journal", query: query) })
        if options.json { print(Format.pretty(body)); return }
        let entries = try Format.decode(body["entries"] ?? .null, as: [JournalEntry].self)
        let times = ISO8601DateFormatter()
        let rows = entries.map { entry -> [String] in
            var summary = ""
            if let detail = entry.detail {
                summary = Format.string(detail["message"] ?? detail["error"])
                if summary == "-", case let .array(sources)? = detail["sources"] {
                    summary = sources.compactMap { source -> String? in
                        guard case let .array(reasons)? = source["reasons"], !reasons.isEmpty else { return nil }
                        return "\(Format.string(source["source"])): " + reasons.map { Format.string($0) }.joined(separator: "; ")
                    }.joined(separator: " | ")
                }
            }
            return [times.string(from: entry.time), entry.kind, entry.source ?? "-", DisplayText.escape(entry.actor), entry.action, entry.outcome,
                    DisplayText.escape(summary)]
        }
        print(Format.table(["TIME", "KIND", "SOURCE", "ACTOR", "ACTION", "OUTCOME", "DETAIL"], rows))
    }
}
