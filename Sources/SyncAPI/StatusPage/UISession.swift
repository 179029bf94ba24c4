import Crypto
import Foundation
import Hummingbird

/// The status page's sign-in: a token posted once becomes a signed, expiring session cookie
/// (HttpOnly, SameSite=Strict, Secure under TLS). The cookie names the role and a fingerprint of
/// the token, never the token; a token removed from the config (SIGHUP) ends its sessions.
/// Signed with a key derived from the token, not one made per process: every instance configured
/// with that token (several behind one address, sharing a journal) and a restarted syncd accept it.
public struct UISessions: Sendable {
    public static let cookieName = "syncd_session"
    static let version = "v2"
    let lifetime: TimeInterval
    let secure: Bool
    let tokens: AccessTokens

    /// `secure`: the API is served over TLS, so the cookie is never sent in clear.
    public init(tokens: AccessTokens, secure: Bool, lifetime: TimeInterval = 8 * 3600) {
        self.tokens = tokens
        self.secure = secure
        self.lifetime = lifetime
    }

    /// The Set-Cookie value of a new session for `token`, or nil when the token is not accepted.
    func signIn(token: String, now: Date = Date()) -> String? {
        guard let role = tokens.role(of: token) else { return nil }
        let expires = Int64(now.addingTimeInterval(lifetime).timeIntervalSince1970)
        let payload = "\(Self.version).\(role.rawValue).\(expires).\(Self.fingerprint(token))"
        return cookie(value: "\(payload).\(Self.signature(payload, token: token))", maxAge: Int(lifetime))
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
        guard parts.count == 5, parts[0] == Self.version, let expires = Int64(parts[2]),
              let role = Role(rawValue: String(parts[1])),
              let (token, tokenRole) = tokens.token(withFingerprint: String(parts[3])), tokenRole == role else { return nil }
        let payload = parts[0...3].joined(separator: ".")
        guard constantTimeEquals(String(parts[4]), Self.signature(payload, token: token)), Double(expires) > now.timeIntervalSince1970 else { return nil }
        return role
    }

    private static func signature(_ payload: String, token: String) -> String {
        let key = HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: Data(token.utf8)), salt: Data("syncd status page session".utf8),
                                         info: Data(version.utf8), outputByteCount: 32)
        return Data(HMAC<SHA256>.authenticationCode(for: Data(payload.utf8), using: key)).map { String(format: "%02x", $0) }.joined()
    }

    static func fingerprint(_ token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).prefix(12).map { String(format: "%02x", $0) }.joined()
    }
}

extension AccessTokens {
    /// The configured token with this fingerprint, and its role (see `UISessions`).
    func token(withFingerprint fingerprint: String) -> (String, Role)? {
        let (read, admin) = current
        if let token = admin.first(where: { constantTimeEquals(UISessions.fingerprint($0.value), fingerprint) }) { return (token.value, .admin) }
        if let token = read.first(where: { constantTimeEquals(UISessions.fingerprint($0.value), fingerprint) }) { return (token.value, .read) }
        return nil
    }
}
