import Testing
@testable import PostgresSource

@Suite struct LSNFormatTests {
    @Test func formatsLSNLikePostgres() {
        #expect(formatLSN(0) == "0/0")
        #expect(formatLSN(0x3_0000_0148) == "3/148")
        #expect(formatLSN(0x16_B374D848) == "16/B374D848")
    }
}
