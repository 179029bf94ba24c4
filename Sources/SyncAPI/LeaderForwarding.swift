import CurlClient
import Foundation
import Hummingbird
import SyncCore
import SyncManager

/// How a follower reaches the leader's API: its own identity (named in the forwarded actor), the
/// CA that signed the other instances' certificates, and its own certificate for a leader that
/// requires client certificates.
public struct LeaderForwarding: Sendable {
    public var instance: InstanceIdentity
    public var tls: TLSClientFiles?
    let pool = CurlPool(size: 4)

    public init(instance: InstanceIdentity, tls: TLSClientFiles?) {
        self.instance = instance
        self.tls = tls
    }
}

/// On a follower, admin calls (and the jobs they start, which live on the leader) go to the
/// leader, journaled there with the caller and this instance; with no leader known they are
/// refused with 503 and why. A forwarded request is never forwarded again.
struct ForwardToLeader: RouterMiddleware {
    typealias Context = APIContext
    let manager: SyncManager
    let forwarding: LeaderForwarding

    static let forwardedHeader = HTTPFields.Element.Name("X-Syncd-Forwarded-By")!

    static func isLeaderWork(_ request: Request) -> Bool {
        let path = request.uri.path
        if request.method == .post || request.method == .delete { return path.hasPrefix("/v1/") }
        return path.hasPrefix("/v1/checks/") || path == "/v1/cutovers" || (path.hasPrefix("/v1/cutovers/") && !path.hasSuffix("/digest"))
    }

    func handle(_ request: Request, context: APIContext, next: (Request, APIContext) async throws -> Response) async throws -> Response {
        guard Self.isLeaderWork(request), request.headers[Self.forwardedHeader] == nil,
              let cluster = await manager.cluster(), cluster.role != "leader" else {
            return try await next(request, context)
        }
        guard let leader = cluster.leader, leader != forwarding.instance.id, let url = cluster.leaderURL else {
            // Reads of jobs are answered here (there is nothing to forward to); work is refused.
            if request.method == .get { return try await next(request, context) }
            throw NotLeaderError(leader: cluster.leader, leaderURL: cluster.leaderURL, reason: cluster.journalError)
        }
        let body = try await request.body.collect(upTo: 1 << 20)
        var headers = ["X-Syncd-Forwarded-By: \(forwarding.instance.id)",
                       "X-Syncd-Actor: \(context.actor) via \(forwarding.instance.id)"]
        if let authorization = request.headers[.authorization] { headers.append("Authorization: \(authorization)") }
        if let type = request.headers[.contentType] { headers.append("Content-Type: \(type)") }
        let target = url.trimmingCharacters(in: CharacterSet(charactersIn: "/")) + (request.uri.string.hasPrefix("/") ? request.uri.string : "/" + request.uri.string)
        let forwarded = CurlClient.HTTPRequest(method: request.method.rawValue, url: target, headers: headers,
                                    body: body.readableBytes > 0 ? .bytes(Array(buffer: body)) : nil, tls: forwarding.tls,
                                    connectTimeoutSeconds: 5, timeoutSeconds: Int(SyncAPI.maxDrainTimeoutSeconds) + 120)
        let answer: CurlClient.HTTPResponse
        do {
            answer = try await forwarding.pool.perform(forwarded)
        } catch let error as CurlClient.HTTPError {
            throw APIError(.badGateway, "this instance is a follower and the leader \(leader) at \(url) did not answer: \(error.message)",
                           code: "leader_unreachable", remedy: "retry: if the leader is gone, another instance takes over within lease_ttl")
        }
        var fields: HTTPFields = [:]
        for (name, value) in answer.headers where ["content-type", "location", "www-authenticate"].contains(name) {
            if let field = HTTPFields.Element.Name(name) { fields[field] = value }
        }
        var buffer = ByteBuffer()
        buffer.writeBytes(answer.body)
        return Response(status: .init(code: answer.status), headers: fields, body: .init(byteBuffer: buffer))
    }
}
