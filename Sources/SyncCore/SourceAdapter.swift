import Foundation

/// One replicated data store (a primary and its DR copy), behind a uniform contract.
/// Adapters never throw for an unreachable server from `sample()`: they report it as a state,
/// so the poll loop keeps a history of outages too.
public protocol SourceAdapter: Sendable {
    var name: String { get }
    var kind: SourceKind { get }
    /// What the detected topology allows; the manager refuses the rest with a clear error.
    func capabilities() async -> Set<SourceOperation>
    func sample() async -> Sample
    func pause() async throws
    func resume() async throws
    func forceFullSync() async throws
    /// Blocks until the DR side has caught up with the primary's position at the moment of the call.
    func waitForDrain(timeout: Duration) async throws -> DrainResult
    /// Releases connections; the adapter may be used again afterwards (it reconnects).
    func shutdown() async
}
