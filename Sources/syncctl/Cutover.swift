import ArgumentParser
import Foundation
import SyncCore
import SyncManager

struct Cutover: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Drain, verify and gate every source (or a plan's) in one journaled run, with an evidence report.",
        subcommands: [RunCutover.self, ListCutovers.self, ShowCutover.self, VerifyReport.self, CancelCutover.self],
        defaultSubcommand: RunCutover.self)
}

struct RunCutover: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a cutover (the default). Exit 0 pass or degraded, 1 fail, 2 cancelled or error.")
    @OptionGroup var options: ClientOptions
    @Option(help: "Comma-separated source names (default: every source).")
    var sources: String?
    @Option(help: "A plan file (YAML): ordered stages of sources, each with its drain timeout, rounds, threshold and failure policy.")
    var plan: String?
    @Flag(help: "Change nothing on any server (no pause); the report is marked a drill.")
    var drill = false
    @Option(help: "Also write the report, with its digest, as a self-contained Markdown file.")
    var report: String?
    @Option(help: "Give up after this long, e.g. 10m: what still runs is cancelled.")
    var timeout: String = "10m"

    func validate() throws {
        guard let seconds = DurationText.parse(timeout), seconds >= 1 else { throw ValidationError("--timeout must be a duration like 10m, got '\(timeout)'") }
        if plan != nil, sources != nil { throw ValidationError("give either --sources or --plan (a plan names its sources)") }
    }

    func run() async throws {
        var request = CutoverRequest(drill: drill, timeoutSeconds: DurationText.parse(timeout))
        request.sources = sources.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
        if let plan {
            do {
                request.plan = try CutoverPlanLoader.load(file: plan)
            } catch let error as ConfigError {
                throw CLIError(message: "invalid plan: \(error)")
            }
        }
        let body = try JSONCoding.encoder.encode(request)
        let (options, interactive) = (self.options, isatty(STDERR_FILENO) == 1)
        let interrupt = Interrupt()
        let raw = try await options.withClient { client in
            var run = try options.expectOK(try await client.request("POST", "/v1/cutovers", body: body))
            guard case let .string(id)? = run["id"] else { throw CLIError(message: "syncd did not return a run id") }
            var board = CutoverBoard(interactive: interactive)
            var cancelSent = false
            while run["status"] == .string("running") {
                if interrupt.raised, !cancelSent {
                    // Ctrl-C: the run is cancelled on the daemon (and journaled), then its report printed.
                    cancelSent = true
                    FileHandle.standardError.write(Data("\nsyncctl: cancelling cutover \(id)\n".utf8))
                    _ = try? await client.request("DELETE", "/v1/cutovers/\(id)", timeout: 60)
                }
                run = try options.expectOK(try await client.request("GET", "/v1/cutovers/\(id)", query: ["wait": "500ms"]))
                if let text = board.text(for: try Format.decode(run, as: CutoverRun.self)) { FileHandle.standardError.write(Data(text.utf8)) }
            }
            if let text = board.finish() { FileHandle.standardError.write(Data(text.utf8)) }
            return run
        }
        let result = try Format.decode(raw, as: CutoverRun.self)
        if let report {
            do {
                try Format.cutoverMarkdown(result, raw: raw).write(toFile: report, atomically: true, encoding: .utf8)
            } catch {
                throw CLIError(message: "cannot write the report to \(report): \(error.localizedDescription)")
            }
        }
        print(options.json ? Format.pretty(raw) : Format.cutover(result))
        if result.exitCode != 0 { throw ExitCode(result.exitCode) }
    }
}

struct VerifyReport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-report",
        abstract: "Say whether a report file (JSON or the Markdown of --report) is the one journaled for its run. Exit 0 yes, 1 no.")
    @OptionGroup var options: ClientOptions
    @Argument(help: "The report file.")
    var file: String

    func run() async throws {
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw CLIError(message: "cannot read \(file): \(error.localizedDescription)")
        }
        guard let report = Format.reportJSON(in: text) else {
            throw CLIError(message: "\(file) holds no cutover report (JSON, or the Markdown syncctl cutover --report writes)")
        }
        guard case let .string(id)? = report["id"] else { throw CLIError(message: "\(file): the report has no run id") }
        let computed = CutoverRun.digest(ofReport: report)
        let stated = report["report_sha256"].flatMap { if case let .string(value) = $0 { value } else { nil } }
        let answer = try await options.withClient { try await $0.request("GET", "/v1/cutovers/\(id)/digest") }
        let journaled = try options.expectOK(answer)["report_sha256"].flatMap { if case let .string(value) = $0 { value } else { nil } }
        if computed == journaled, stated == nil || stated == computed {
            print("\(file) is the report journaled for cutover run \(id) (sha256 \(computed))")
            return
        }
        print("\(file) is NOT the report journaled for cutover run \(id): its content hashes to \(computed), the journal holds \(journaled ?? "none")"
              + (stated.map { $0 == computed ? "" : "; the digest written in the file (\($0)) does not match its content either" } ?? ""))
        throw ExitCode(1)
    }
}

struct CancelCutover: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cancel", abstract: "Cancel a running cutover run (it is journaled as cancelled).")
    @OptionGroup var options: ClientOptions
    @Argument(help: "The run id.")
    var id: String

    func run() async throws {
        let body = try options.expectOK(try await options.withClient { [id] in try await $0.request("DELETE", "/v1/cutovers/\(id)", timeout: 60) })
        let run = try Format.decode(body, as: CutoverRun.self)
        print(options.json ? Format.pretty(body) : Format.cutover(run))
    }
}

struct ListCutovers: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "The cutover runs syncd holds in memory (the newest 100), newest first.")
    @OptionGroup var options: ClientOptions

    func run() async throws {
        let body = try options.expectOK(try await options.withClient { try await $0.request("GET", "/v1/cutovers") })
        guard !options.json else { print(Format.pretty(body)); return }
        let runs = try Format.decode(body["runs"] ?? .array([]), as: [CutoverRun].self)
        let rows = runs.sorted { $0.startedAt > $1.startedAt }.map { run -> [String] in
            [run.id, ISO8601DateFormatter().string(from: run.startedAt), run.drill ? "yes" : "no", run.status.rawValue,
             run.sources.map { DisplayText.escape($0.source) }.joined(separator: ","), Format.seconds(run.secondsToVerdict)]
        }
        print(rows.isEmpty ? "no cutover runs since syncd started (finished reports stay in the journal)"
              : Format.table(["ID", "STARTED", "DRILL", "STATUS", "SOURCES", "TO VERDICT(s)"], rows))
    }
}

struct ShowCutover: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "One cutover run's report. Exit 0 pass or degraded, 1 fail, 2 running, cancelled or error.")
    @OptionGroup var options: ClientOptions
    @Argument(help: "The run id.")
    var id: String
    @Option(help: "Wait up to this long (at most 60s) for a running run to finish, e.g. 30s.")
    var wait: String?

    func validate() throws {
        if let wait, DurationText.parse(wait) == nil { throw ValidationError("--wait must be a duration like 30s, got '\(wait)'") }
    }

    func run() async throws {
        let query = wait.map { ["wait": $0] } ?? [:]
        let body = try options.expectOK(try await options.withClient { [id] in try await $0.request("GET", "/v1/cutovers/\(id)", query: query, timeout: 90) })
        let run = try Format.decode(body, as: CutoverRun.self)
        print(options.json ? Format.pretty(body) : Format.cutover(run))
        if run.exitCode != 0 { throw ExitCode(run.exitCode) }
    }
}

/// Set by SIGINT while a run is followed, so Ctrl-C cancels the run instead of abandoning it.
final class Interrupt: @unchecked Sendable {
    // @unchecked: `value` is read and written under `lock` only; the source lives as long as this object.
    private let lock = NSLock()
    private var value = false
    private let source: DispatchSourceSignal

    init() {
        signal(SIGINT, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler { [weak self] in self?.raise() }
        source.resume()
    }

    deinit {
        source.cancel()
        signal(SIGINT, SIG_DFL)
    }

    private func raise() { lock.withLock { value = true } }

    var raised: Bool { lock.withLock { value } }
}
