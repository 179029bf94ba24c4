import Crypto
import Foundation
import Hummingbird

/// The status page's sign-in: a token posted once becomes a signed, expiring session cookie
/// (HttpOnly, SameSite=Strict, Secure under TLS). The cookie names the role and a fingerprint of
/// the token, never the token; a token removed from the config (SIGHUP) ends its sessions.
public struct UISessions: Sendable {
    public static let cookieName = "syncd_session"
    let key: SymmetricKey
    let lifetime: TimeInterval
    let secure: Bool
    let tokens: AccessTokens

    /// `secure`: the API is served over TLS, so the cookie is never sent in clear.
    public init(tokens: AccessTokens, secure: Bool, lifetime: TimeInterval = 8 * 3600, key: SymmetricKey = SymmetricKey(size: .bits256)) {
        self.tokens = tokens
        self.secure = secure
        self.lifetime = lifetime
        self.key = key
    }

    /// The Set-Cookie value of a new session for `token`, or nil when the token is not accepted.
    func signIn(token: String, now: Date = Date()) -> String? {
        guard let role = tokens.role(of: token) else { return nil }
        let expires = Int64(now.addingTimeInterval(lifetime).timeIntervalSince1970)
        let payload = "v1.\(role.rawValue).\(expires).\(Self.fingerprint(token))"
        return cookie(value: "\(payload).\(signature(payload))", maxAge: Int(lifetime))
    }

    /// The Set-Cookie value that ends the session in the browser.
    var signOut: String { cookie(value: "", maxAge: 0) }

    private func cookie(value: String, maxAge: Int) -> String {
        "\(Self.cookieName)=\(value); Path=/; Max-Age=\(maxAge); HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "")
    }

    /// The role of a valid, unexpired session whose token is still configured.
    func role(of request: Request, now: Date = Date()) -> Role? {
        guard let value = request.cookies[Self.cookieName]?.value else { return nil }
        return role(ofCookie: value, now: now)
    }

    func role(ofCookie value: String, now: Date = Date()) -> Role? {
        let parts = value.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0] == "v1", let expires = Int64(parts[2]),
              let role = Role(rawValue: String(parts[1])) else { return nil }
        let payload = parts[0...3].joined(separator: ".")
        guard constantTimeEquals(String(parts[4]), signature(payload)), Double(expires) > now.timeIntervalSince1970,
              tokens.roleOfFingerprint(String(parts[3])) == role else { return nil }
        return role
    }

    private func signature(_ payload: String) -> String {
        Data(HMAC<SHA256>.authenticationCode(for: Data(payload.utf8), using: key)).map { String(format: "%02x", $0) }.joined()
    }

    static func fingerprint(_ token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).prefix(12).map { String(format: "%02x", $0) }.joined()
    }
}

extension AccessTokens {
    /// The role of the configured token with this fingerprint (see `UISessions`).
    func roleOfFingerprint(_ fingerprint: String) -> Role? {
        let (read, admin) = current
        if admin.contains(where: { constantTimeEquals(UISessions.fingerprint($0.value), fingerprint) }) { return .admin }
        if read.contains(where: { constantTimeEquals(UISessions.fingerprint($0.value), fingerprint) }) { return .read }
        return nil
    }
}
