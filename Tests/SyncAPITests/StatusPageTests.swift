import Foundation
import Testing
@testable import SyncAPI
@testable import SyncCore

@Suite struct UISessionTests {
    let tokens = AccessTokens(read: [Secret("read-token-0123456789")], admin: [Secret("admin-token-0123456789")])

    func cookieValue(_ setCookie: String) -> String {
        String(setCookie.split(separator: ";")[0].dropFirst("syncd_session=".count))
    }

    @Test("a session is signed, carries the role, expires, and never holds the token")
    func sessionsAreSignedAndExpire() throws {
        let sessions = UISessions(tokens: tokens, secure: true, lifetime: 60)
        let now = Date(timeIntervalSince1970: 2_000_000_000)
        let setCookie = try #require(sessions.signIn(token: "read-token-0123456789", now: now))
        #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict") && setCookie.contains("Secure") && setCookie.contains("Max-Age=60"))
        #expect(!setCookie.contains("read-token-0123456789"))
        let value = cookieValue(setCookie)
        #expect(sessions.role(ofCookie: value, now: now) == .read)
        #expect(sessions.role(ofCookie: value, now: now.addingTimeInterval(61)) == nil, "expired")
        #expect(sessions.signIn(token: "wrong", now: now) == nil)
        #expect(cookieValue(try #require(sessions.signIn(token: "admin-token-0123456789", now: now))).contains(".admin."))
        #expect(!UISessions(tokens: tokens, secure: false).signOut.contains("Secure"), "no Secure flag on plain HTTP")
    }

    @Test("a tampered or revoked session, or one made with a token this instance lacks, is refused; another instance with the same token accepts it")
    func forgedSessionsAreRefused() throws {
        let sessions = UISessions(tokens: tokens, secure: true)
        let value = cookieValue(try #require(sessions.signIn(token: "read-token-0123456789")))
        #expect(sessions.role(ofCookie: value.replacingOccurrences(of: ".read.", with: ".admin.")) == nil, "role raised by hand")
        var parts = value.split(separator: ".").map(String.init)
        parts[2] = String(Int64(parts[2])! + 86400)
        #expect(sessions.role(ofCookie: parts.joined(separator: ".")) == nil, "expiry moved by hand")
        // Another instance (or this one restarted) with the same token accepts it; one without it does not.
        #expect(UISessions(tokens: AccessTokens(read: [Secret("read-token-0123456789")], admin: []), secure: true).role(ofCookie: value) == .read,
                "an instance configured with the same token")
        let otherTokens = AccessTokens(read: [Secret("other-read-token-0123456789")], admin: [Secret("admin-token-0123456789")])
        #expect(UISessions(tokens: otherTokens, secure: true).role(ofCookie: value) == nil, "an instance without that token")
        // The signature is the token's: a cookie for the read token re-signed under the admin token's fingerprint fails.
        var borrowed = value.split(separator: ".").map(String.init)
        borrowed[1] = "admin"
        borrowed[3] = UISessions.fingerprint("admin-token-0123456789")
        #expect(sessions.role(ofCookie: borrowed.joined(separator: ".")) == nil, "another token's fingerprint with this token's signature")
        #expect(sessions.role(ofCookie: value.replacingOccurrences(of: "v2.", with: "v1.")) == nil, "an older version")
        #expect(sessions.role(ofCookie: "") == nil && sessions.role(ofCookie: "v2.read.1.2") == nil)
        tokens.replace(read: [Secret("rotated-token-0123456789")], admin: [Secret("admin-token-0123456789")])
        #expect(sessions.role(ofCookie: value) == nil, "the token it was made with is gone")
    }

    @Test("form fields decode percent escapes and plus signs")
    func formFields() {
        #expect(StatusPage.formField("token", in: "token=a%2Bb+c%3D&x=1") == "a+b c=")
        #expect(StatusPage.formField("token", in: "other=1") == nil)
    }
}

@Suite struct StatusPageRenderingTests {
    @Test("every text is escaped: markup in a key or a reason is shown, never run")
    func escaping() {
        #expect(HTML.escape("<script>alert(1)</script>") == "&lt;script&gt;alert(1)&lt;/script&gt;")
        #expect(HTML.escape("a\"b'c&d") == "a&quot;b&#39;c&amp;d")
        #expect(HTML.escape("bell\u{07}") == "bell\\u{7}")
        #expect(StatusPage.keyText(.object(["key": .string("<b>")])) == "<b>", "escaped where it is written into the page")
        #expect(StatusPage.keyText(.object(["id": .number(3), "tenant": .string("a")])) == #"{"id":3,"tenant":"a"}"#)
    }

    @Test("a sparkline breaks where the lag was unknown and names the highest value")
    func sparklines() {
        let now = Date()
        let samples = [0.5, nil, 2.0, 1.0].enumerated().map { index, lag in
            Sample(time: now.addingTimeInterval(Double(index)), state: .inSync, lagSeconds: lag, unit: .bytes)
        }
        let svg = Charts.sparkline(samples, label: "lag of <x>")
        #expect(svg.components(separatedBy: "<polyline").count - 1 == 2, "two segments around the gap: \(svg)")
        #expect(svg.contains("highest 2.00 s") && svg.contains("lag of &lt;x&gt;"))
        let chart = Charts.chart(title: "Lag", unit: "seconds", times: samples.map(\.time), values: samples.map(\.lagSeconds), now: now.addingTimeInterval(3))
        #expect(chart.contains(">seconds<") && chart.contains(">now<") && chart.contains("time (before now)") && chart.contains(">2<"))
        #expect(Charts.niceCeiling(0.7) == 1 && Charts.niceCeiling(3.2) == 5 && Charts.niceCeiling(1200) == 2000)
    }
}
