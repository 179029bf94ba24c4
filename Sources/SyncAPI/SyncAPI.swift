import Foundation
import Hummingbird
import Synchronization
import Prometheus
import SyncCore
import SyncManager

/// Who is calling: decided by the bearer token.
public enum Role: String, Sendable {
    case read, admin
}

public struct APIContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var role: Role?
    /// Free-form caller identity for the journal (`X-Syncd-Actor`), prefixed with the role.
    public var actor: String = "anonymous"

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }
}

/// Every API error answers one JSON shape: `{"error": "<message>", "status": N, "code": "<machine
/// code>", "remedy": "<what to do>"}` (remedy only when there is one).
public struct APIError: HTTPResponseError {
    public var status: HTTPResponse.Status
    public var message: String
    public var code: String
    public var remedy: String?
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, _ message: String, code: String? = nil, remedy: String? = nil, headers: HTTPFields = [:]) {
        self.status = status
        self.message = message
        self.code = code ?? APIError.code(for: status)
        self.remedy = remedy
        self.headers = headers
    }

    /// An operation's error, answered with its own status code, code and remedy.
    public init(_ error: any OperationError) {
        self.init(HTTPResponse.Status(code: error.statusCode), error.description, code: error.code, remedy: error.remedy)
    }

    static func code(for status: HTTPResponse.Status) -> String {
        switch status.code {
        case 400: "bad_request"
        case 401: "unauthorized"
        case 403: "forbidden"
        case 404: "not_found"
        case 409: "conflict"
        default: status.code >= 500 ? "internal" : "error"
        }
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var body: [String: JSONValue] = ["error": .string(message), "status": .number(Double(status.code)), "code": .string(code)]
        if let remedy { body["remedy"] = .string(remedy) }
        var response = jsonResponse(body, status: status)
        for field in headers { response.headers.append(field) }
        return response
    }
}

/// Errors of the operations, answered in the API's one shape without a do/catch per route.
extension SyncError: HTTPResponseError {
    public var status: HTTPResponse.Status { HTTPResponse.Status(code: statusCode) }
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        try APIError(self).response(from: request, context: context)
    }
}

extension CutoverRequestError: HTTPResponseError {
    public var status: HTTPResponse.Status { HTTPResponse.Status(code: statusCode) }
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        try APIError(self).response(from: request, context: context)
    }
}

extension UnknownSourceError: HTTPResponseError {
    public var status: HTTPResponse.Status { HTTPResponse.Status(code: statusCode) }
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        try APIError(self).response(from: request, context: context)
    }
}

/// Anything else that escapes a route (a journal that cannot be written, a bug) still answers the
/// one JSON shape, as a 500 with its words.
struct ErrorShape<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            // The framework's own errors (no route, a body too large, a missing parameter) in the same shape.
            let message = error.body ?? (error.status == .notFound
                ? "no route \(request.method.rawValue) \(request.uri.path) (GET /openapi.yaml lists the routes)"
                : error.status.reasonPhrase)
            throw APIError(error.status, message, headers: error.headers)
        } catch let error as any HTTPResponseError {
            throw error
        } catch let error as any OperationError {
            throw APIError(error)
        } catch {
            throw APIError(.internalServerError, "\(error)")
        }
    }
}

func jsonResponse(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
    let data = (try? JSONCoding.prettyEncoder.encode(value)) ?? Data(#"{"error":"could not encode the response"}"#.utf8)
    var buffer = ByteBuffer()
    buffer.writeBytes(data)
    buffer.writeString("\n")
    return Response(status: status, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: buffer))
}

/// The tokens each role accepts; replaced as a whole when syncd re-reads its token files (SIGHUP).
public final class AccessTokens: Sendable {
    private let tokens: Mutex<(read: [Secret], admin: [Secret])>

    public init(read: [Secret], admin: [Secret]) {
        tokens = Mutex((read, admin))
    }

    public func replace(read: [Secret], admin: [Secret]) {
        tokens.withLock { $0 = (read, admin) }
    }

    var current: (read: [Secret], admin: [Secret]) { tokens.withLock { $0 } }

    /// Compares against every token, whichever matches, so timing tells nothing about which role
    /// or how much of a token matched.
    func role(of token: String) -> Role? {
        let (read, admin) = tokens.withLock { $0 }
        var isAdmin = false, isRead = false
        for candidate in admin where constantTimeEquals(token, candidate.value) { isAdmin = true }
        for candidate in read where constantTimeEquals(token, candidate.value) { isRead = true }
        return isAdmin ? .admin : isRead ? .read : nil
    }
}

/// Checks the bearer token: none or a wrong one is 401; the role goes into the context.
struct BearerAuth: RouterMiddleware {
    typealias Context = APIContext
    let tokens: AccessTokens

    func handle(_ request: Request, context: APIContext, next: (Request, APIContext) async throws -> Response) async throws -> Response {
        let challenge: HTTPFields = [.wwwAuthenticate: #"Bearer realm="syncd""#]
        guard let header = request.headers[.authorization] else {
            throw APIError(.unauthorized, "missing bearer token: send 'Authorization: Bearer <token>'", headers: challenge)
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw APIError(.unauthorized, "the Authorization header must be 'Bearer <token>'", headers: challenge)
        }
        let token = String(parts[1]).trimmingCharacters(in: .whitespaces)
        var context = context
        guard let role = tokens.role(of: token) else {
            throw APIError(.unauthorized, "invalid bearer token", headers: challenge)
        }
        context.role = role
        let claimed = request.headers[actorHeader].map { sanitizeActor($0) }
        context.actor = "\(context.role!.rawValue)-token" + (claimed.map { " (\($0))" } ?? "")
        return try await next(request, context)
    }
}

/// Compares without an early exit, so response time does not reveal how much of a token matched.
func constantTimeEquals(_ lhs: String, _ rhs: String) -> Bool {
    let a = Array(lhs.utf8), b = Array(rhs.utf8)
    var difference = UInt8(a.count == b.count ? 0 : 1)
    for index in 0..<max(a.count, b.count) {
        difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
    }
    return difference == 0
}

let actorHeader = HTTPFields.Element.Name("X-Syncd-Actor")!

func sanitizeActor(_ text: String) -> String {
    String(text.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }.prefix(100).map(Character.init))
}

func requireAdmin(_ context: APIContext) throws {
    guard context.role == .admin else {
        throw APIError(.forbidden, "this operation needs the admin token; the read token may only read")
    }
}

/// Query parameters, checked strictly: an unknown or misspelt parameter is a 400, never ignored
/// (a typo in `sources` must not silently gate every source).
struct Query {
    let values: [String: String]

    init(_ request: Request, allowed: [String]) throws {
        var values: [String: String] = [:]
        for (key, value) in request.uri.queryParameters {
            let name = String(key)
            guard allowed.contains(name) else {
                throw APIError(.badRequest, "unknown query parameter '\(name)'" + (allowed.isEmpty ? " (none are accepted)" : " (accepted: \(allowed.joined(separator: ", ")))"))
            }
            guard values[name] == nil else { throw APIError(.badRequest, "query parameter '\(name)' is given more than once") }
            values[name] = String(value)
        }
        self.values = values
    }

    /// A comma-separated list of names; nil when absent.
    func list(_ name: String) throws -> [String]? {
        guard let raw = values[name] else { return nil }
        let items = raw.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard !items.isEmpty, items.allSatisfy({ !$0.isEmpty }) else {
            throw APIError(.badRequest, "query parameter '\(name)' must be a comma-separated list of source names, got '\(raw)'")
        }
        return items
    }

    func int(_ name: String, range: ClosedRange<Int>) throws -> Int? {
        guard let raw = values[name] else { return nil }
        guard let value = Int(raw), range.contains(value) else {
            throw APIError(.badRequest, "query parameter '\(name)' must be an integer from \(range.lowerBound) to \(range.upperBound), got '\(raw)'")
        }
        return value
    }

    func duration(_ name: String, max limit: Double) throws -> Double? {
        guard let raw = values[name] else { return nil }
        guard let seconds = DurationText.parse(raw), seconds > 0, seconds <= limit else {
            throw APIError(.badRequest, "query parameter '\(name)' must be a duration like 30s or 5m, above 0 and at most \(Int(limit)) s, got '\(raw)'")
        }
        return seconds
    }

    func string(_ name: String) -> String? { values[name] }

    /// One of a fixed set of words; anything else is a 400 listing them (never an empty answer).
    func choice(_ name: String, of allowed: [String]) throws -> String? {
        guard let raw = values[name] else { return nil }
        guard allowed.contains(raw) else {
            throw APIError(.badRequest, "query parameter '\(name)' must be one of \(allowed.joined(separator: ", ")), got '\(raw)'")
        }
        return raw
    }

    func bool(_ name: String) throws -> Bool? {
        guard let raw = values[name] else { return nil }
        switch raw.lowercased() {
        case "true", "1", "yes": return true
        case "false", "0", "no": return false
        default: throw APIError(.badRequest, "query parameter '\(name)' must be true or false, got '\(raw)'")
        }
    }
}

/// Maps domain errors to HTTP: 4xx for the caller's mistake or the source's state, 5xx for syncd itself.
public enum SyncAPI {
    public static let maxDrainTimeoutSeconds: Double = 3600

    public static func router(manager: SyncManager, readToken: Secret, adminToken: Secret, registry: PrometheusCollectorRegistry) -> Router<APIContext> {
        router(manager: manager, tokens: AccessTokens(read: [readToken], admin: [adminToken]), registry: registry)
    }

    /// `sessions`: serve the status page (`/`, `/ui/…`), signed in with these sessions.
    public static func router(manager: SyncManager, tokens: AccessTokens, registry: PrometheusCollectorRegistry,
                              forwarding: LeaderForwarding? = nil, sessions: UISessions? = nil) -> Router<APIContext> {
        // HEAD wherever GET is served: load balancers' health checks send HEAD.
        let router = Router(context: APIContext.self, options: .autoGenerateHeadEndpoints)
        router.add(middleware: ErrorShape())

        router.get("/healthz") { _, _ in
            jsonResponse(["status": "ok"])
        }
        router.get("/openapi.yaml") { _, _ -> Response in
            var buffer = ByteBuffer()
            buffer.writeString(OpenAPIDocument.yaml + "\n")
            return Response(status: .ok, headers: [.contentType: "application/yaml; charset=utf-8"], body: .init(byteBuffer: buffer))
        }

        if let sessions { StatusPage.register(on: router, manager: manager, sessions: sessions) }

        var authed = router.group().add(middleware: BearerAuth(tokens: tokens))
        if let forwarding { authed = authed.add(middleware: ForwardToLeader(manager: manager, forwarding: forwarding)) }

        authed.get("/metrics") { request, _ -> Response in
            _ = try Query(request, allowed: [])
            var buffer = ByteBuffer()
            buffer.writeString(registry.emitToString())
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"], body: .init(byteBuffer: buffer))
        }

        authed.get("/v1/status") { request, _ -> Response in
            _ = try Query(request, allowed: [])
            let statuses = await manager.status()
            var body: [String: JSONValue] = ["sources": try JSONValue.from(statuses), "summary": try JSONValue.from(StatusSummary(statuses))]
            if let cluster = await manager.cluster() { body["cluster"] = try JSONValue.from(cluster) }
            return jsonResponse(body)
        }

        authed.get("/v1/sources/:name") { request, context -> Response in
            let query = try Query(request, allowed: ["history"])
            let limit = try query.int("history", range: 0...100_000) ?? 0
            let name = try context.parameters.require("name")
            guard let monitor = manager.monitor(named: name) else { throw UnknownSourceError(names: [name], known: manager.sourceNames) }
            var body = try JSONValue.from(await manager.status(of: monitor))
            if limit > 0, case var .object(object) = body {
                object["history"] = try JSONValue.from(await monitor.history(limit: limit))
                body = .object(object)
            }
            return jsonResponse(body)
        }

        // The gate, in the two shapes pipelines consume (SPEC §4).
        authed.get("/v1/gate") { request, context -> Response in
            let verdict = try await gate(manager, request, context)
            return jsonResponse(verdict, status: verdict.status == .pass ? .ok : .serviceUnavailable)
        }
        authed.get("/v1/gate/verdict") { request, context -> Response in
            jsonResponse(try await gate(manager, request, context))
        }

        for action in [ControlAction.pause, .resume, .drain, .fullSync] {
            let path = action == .fullSync ? "full-sync" : action.rawValue
            authed.post("/v1/sources/:name/\(path)") { request, context -> Response in
                try requireAdmin(context)
                let query = try Query(request, allowed: action == .drain ? ["timeout"] : [])
                let timeout = try query.duration("timeout", max: maxDrainTimeoutSeconds) ?? 60
                let name = try context.parameters.require("name")
                let outcome = try await manager.control(action, source: name, actor: context.actor,
                                                        timeout: .milliseconds(Int64(timeout * 1000)))
                return jsonResponse(outcome)
            }
        }

        // Consistency checks run in the background: start one, then poll it.
        authed.post("/v1/sources/:name/check") { request, context -> Response in
            try requireAdmin(context)
            let query = try Query(request, allowed: ["tables", "full_diff", "max_diffs", "rounds"])
            var options = CheckOptions()
            options.tables = try query.list("tables")
            options.fullDiff = try query.bool("full_diff") ?? false
            options.maxDiffs = try query.int("max_diffs", range: 0...1_000_000) ?? options.maxDiffs
            options.rounds = try query.int("rounds", range: 1...20) ?? options.rounds
            let name = try context.parameters.require("name")
            let job = try await manager.startCheck(source: name, options: options, actor: context.actor)
            var response = jsonResponse(job, status: .accepted)
            response.headers[.location] = "/v1/checks/\(job.id)"
            return response
        }
        // Reconcile: a dry run (the default) prints the plan and changes nothing; apply=true executes it.
        authed.post("/v1/sources/:name/reconcile") { request, context -> Response in
            try requireAdmin(context)
            let query = try Query(request, allowed: ["apply", "delete"])
            let apply = try query.bool("apply") ?? false
            let delete = try query.bool("delete") ?? false
            let name = try context.parameters.require("name")
            return jsonResponse(try await manager.reconcile(source: name, apply: apply, deleteExtras: delete, actor: context.actor))
        }
        // wait=DURATION answers as soon as the check ends, or after that long with its progress.
        authed.get("/v1/checks/:id") { request, context -> Response in
            let query = try Query(request, allowed: ["wait"])
            let wait = try query.duration("wait", max: 60) ?? 0
            let id = try context.parameters.require("id")
            guard let job = await manager.checkJob(id: id, wait: wait) else {
                throw APIError(.notFound, "no check job '\(id)' (jobs are kept in memory until syncd restarts; results stay in the journal)")
            }
            return jsonResponse(job)
        }
        // Cancelling a check cancels its statements on the servers and stops its transfers.
        authed.delete("/v1/checks/:id") { request, context -> Response in
            try requireAdmin(context)
            _ = try Query(request, allowed: [])
            let id = try context.parameters.require("id")
            guard await manager.checkJob(id: id) != nil else {
                throw APIError(.notFound, "no check job '\(id)' (jobs are kept in memory until syncd restarts; results stay in the journal)")
            }
            return jsonResponse(try await manager.cancelCheck(id: id, actor: context.actor))
        }
        authed.get("/v1/sources/:name/check") { request, context -> Response in
            _ = try Query(request, allowed: [])
            let name = try context.parameters.require("name")
            guard let latest = try await manager.latestCheckResult(source: name) else {
                throw APIError(.notFound, "no consistency check has run for source '\(name)'")
            }
            return jsonResponse(latest)
        }

        // Cutover runs: drain, verify and gate every source (or a plan's) in one journaled operation.
        authed.post("/v1/cutovers") { request, context -> Response in
            try requireAdmin(context)
            _ = try Query(request, allowed: [])
            let body = try await request.body.collect(upTo: 1 << 20)
            let cutover: CutoverRequest
            do {
                cutover = body.readableBytes == 0 ? CutoverRequest()
                    : try JSONCoding.typedDecoder.decode(CutoverRequest.self, from: Data(buffer: body))
            } catch {
                throw APIError(.badRequest, "the body is not a cutover request: \(error)",
                               remedy: #"send JSON such as {"sources": ["pg-main"], "drill": true} or {"plan": {"stages": [...]}}"#)
            }
            let run = try await manager.startCutover(cutover, actor: context.actor)
            var response = jsonResponse(run, status: .accepted)
            response.headers[.location] = "/v1/cutovers/\(run.id)"
            return response
        }
        authed.get("/v1/cutovers") { request, _ -> Response in
            _ = try Query(request, allowed: [])
            return jsonResponse(["runs": await manager.cutoverRunList()])
        }
        authed.get("/v1/cutovers/:id") { request, context -> Response in
            let query = try Query(request, allowed: ["wait"])
            let wait = try query.duration("wait", max: 60) ?? 0
            let id = try context.parameters.require("id")
            guard let run = await manager.cutoverRun(id: id, wait: wait) else {
                throw APIError(.notFound, "no cutover run '\(id)' (runs are kept in memory until syncd restarts; reports stay in the journal)")
            }
            return jsonResponse(run)
        }
        authed.get("/v1/cutovers/:id/digest") { request, context -> Response in
            _ = try Query(request, allowed: [])
            let id = try context.parameters.require("id")
            guard let digest = try await manager.journaledCutoverDigest(id: id) else {
                throw APIError(.notFound, "the journal holds no finished cutover run '\(id)'")
            }
            return jsonResponse(["id": id, "report_sha256": digest])
        }
        authed.delete("/v1/cutovers/:id") { request, context -> Response in
            try requireAdmin(context)
            _ = try Query(request, allowed: [])
            let id = try context.parameters.require("id")
            guard await manager.cutoverRun(id: id) != nil else {
                throw APIError(.notFound, "no cutover run '\(id)' (runs are kept in memory until syncd restarts; reports stay in the journal)")
            }
            return jsonResponse(try await manager.cancelCutover(id: id, actor: context.actor))
        }

        // Walks the whole chain; a read call, since the evidence is for auditors too.
        authed.get("/v1/journal/verify") { request, _ -> Response in
            _ = try Query(request, allowed: [])
            return jsonResponse(try await manager.journal.verifyChain())
        }
        authed.get("/v1/journal") { request, _ -> Response in
            let query = try Query(request, allowed: ["limit", "source", "kind"])
            let limit = try query.int("limit", range: 1...10_000) ?? 100
            if let source = query.string("source"), manager.monitor(named: source) == nil {
                throw UnknownSourceError(names: [source], known: manager.sourceNames)
            }
            let kind = try query.choice("kind", of: JournalKinds.all)
            let entries = try await manager.journal.recent(limit: limit, source: query.string("source"), kind: kind)
            return jsonResponse(["entries": entries])
        }
        return router
    }

    private static func gate(_ manager: SyncManager, _ request: Request, _ context: APIContext) async throws -> GateVerdict {
        let query = try Query(request, allowed: ["sources"])
        let names = try query.list("sources")
        return try await manager.evaluateGate(sources: names, actor: context.actor)
    }
}
