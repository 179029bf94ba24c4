import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SyncCore

/// A failure that is syncctl's or syncd's own (exit 2), not a failing gate (exit 1).
struct CLIError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

struct APIResponse {
    var status: Int
    var body: JSONValue
}

/// Talks to syncd's HTTP API.
struct APIClient {
    let server: URL
    let token: String

    init(server: String, token: String?) throws {
        guard let url = URL(string: server), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
            throw CLIError(message: "--server must be an http(s) URL such as http://127.0.0.1:8080, got '\(server)'")
        }
        guard let token, !token.isEmpty else {
            throw CLIError(message: "no API token: pass --token or set SYNCD_TOKEN")
        }
        self.server = url
        self.token = token
    }

    func request(_ method: String, _ path: String, query: [String: String] = [:], body: Data? = nil, timeout: Double = 30) async throws -> APIResponse {
        guard var components = URLComponents(url: server.appendingPathComponent(path), resolvingAgainstBaseURL: false) else {
            throw CLIError(message: "cannot build a URL for \(path)")
        }
        if !query.isEmpty { components.queryItems = query.sorted { $0.key < $1.key }.map { URLQueryItem(name: $0.key, value: $0.value) } }
        guard let url = components.url else { throw CLIError(message: "cannot build a URL for \(path)") }
        var request = URLRequest(url: url, timeoutInterval: timeout)
        request.httpMethod = method
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.setValue(actorName(), forHTTPHeaderField: "X-Syncd-Actor")
        if let body {
            request.httpBody = body
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response): (Data, URLResponse)
        do {
            (data, response) = try await send(request)
        } catch {
            throw CLIError(message: "cannot reach syncd at \(server.absoluteString): \(error.localizedDescription)")
        }
        guard let http = response as? HTTPURLResponse else { throw CLIError(message: "syncd sent no HTTP response") }
        let body = (try? JSONCoding.decoder.decode(JSONValue.self, from: data)) ?? .string(String(decoding: data, as: UTF8.self))
        return APIResponse(status: http.statusCode, body: body)
    }

    private func send(_ request: URLRequest) async throws -> (Data, URLResponse) {
        try await withCheckedThrowingContinuation { continuation in
            URLSession.shared.dataTask(with: request) { data, response, error in
                if let error {
                    continuation.resume(throwing: error)
                } else if let response {
                    continuation.resume(returning: (data ?? Data(), response))
                } else {
                    continuation.resume(throwing: CLIError(message: "no response"))
                }
            }.resume()
        }
    }

    private func actorName() -> String {
        let user = ProcessInfo.processInfo.environment["USER"] ?? ProcessInfo.processInfo.environment["LOGNAME"] ?? "unknown"
        return "syncctl \(user)@\(ProcessInfo.processInfo.hostName)"
    }
}

extension APIResponse {
    /// The API's error message, for non-2xx answers.
    var errorMessage: String {
        if case let .string(message)? = body["error"] { return message }
        if case let .string(text) = body { return text }
        return "HTTP \(status)"
    }
}
