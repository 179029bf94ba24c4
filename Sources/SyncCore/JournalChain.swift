import Crypto
import Foundation

/// The journal's hash chain: every entry stores the previous entry's hash and its own, SHA-256
/// over that previous hash and the entry's fields exactly as stored. An edited entry no longer
/// matches its hash; an inserted or removed one breaks the link of the entry after it.
public enum JournalChain {
    /// The `prev_hash` of the first entry.
    public static let genesis = String(repeating: "0", count: 64)

    /// The fields that are hashed, as the store keeps them (the detail as its stored JSON text,
    /// the time as the bits of its Double), so verification needs no re-encoding.
    public struct Fields: Sendable, Equatable {
        public var time: Double
        public var kind: String
        public var source: String?
        public var actor: String
        public var action: String
        public var outcome: String
        public var detail: String?

        /// An entry about to be written: the detail as the JSON text every store keeps.
        public init(time: Date, kind: String, source: String?, actor: String, action: String, outcome: String, detail: JSONValue?) throws {
            self.init(time: time.timeIntervalSince1970, kind: kind, source: source, actor: actor, action: action, outcome: outcome,
                      detail: try detail.map { String(decoding: try JSONCoding.encoder.encode($0), as: UTF8.self) })
        }

        public init(time: Double, kind: String, source: String?, actor: String, action: String, outcome: String, detail: String?) {
            self.time = time
            self.kind = kind
            self.source = source
            self.actor = actor
            self.action = action
            self.outcome = outcome
            self.detail = detail
        }
    }

    public static func hash(previous: String, _ fields: Fields) -> String {
        var hasher = SHA256()
        // Each field length-prefixed (and nil told from empty), so no two entries share an input.
        func add(_ text: String?) {
            guard let text else { hasher.update(data: [0xFF]); return }
            let bytes = Array(text.utf8)
            var length = UInt64(bytes.count).bigEndian
            hasher.update(data: [0x01])
            withUnsafeBytes(of: &length) { hasher.update(bufferPointer: $0) }
            hasher.update(data: bytes)
        }
        add(previous)
        add(String(fields.time.bitPattern, radix: 16))
        add(fields.kind)
        add(fields.source)
        add(fields.actor)
        add(fields.action)
        add(fields.outcome)
        add(fields.detail)
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// What a prune checkpoint records (detail of a `service`/`prune` entry): the entries up to
    /// `throughEntry` are gone except `kept` (cutover runs), and the entry after them links to `throughHash`.
    public struct Checkpoint: Sendable, Codable, Equatable {
        public struct Kept: Sendable, Codable, Equatable {
            public var id: Int64
            public var hash: String
            public init(id: Int64, hash: String) { self.id = id; self.hash = hash }
        }
        public var throughEntry: Int64
        public var throughHash: String
        public var pruned: Int
        public var olderThan: Date
        public var kept: [Kept]

        public init(throughEntry: Int64, throughHash: String, pruned: Int, olderThan: Date, kept: [Kept]) {
            self.throughEntry = throughEntry
            self.throughHash = throughHash
            self.pruned = pruned
            self.olderThan = olderThan
            self.kept = kept
        }
    }

    public static let pruneAction = "prune"
}

/// What a chain verification found.
public struct JournalVerification: Sendable, Codable, Equatable {
    public var ok: Bool
    /// Entries read.
    public var entries: Int
    /// The last entry's hash: record it elsewhere to notice the newest entries being cut off.
    public var headHash: String
    public var headEntry: Int64?
    /// The first entry that does not verify, and why.
    public var firstBadEntry: Int64?
    public var problem: String?
    /// The prune checkpoint verification started from, when entries were pruned.
    public var checkpointEntry: Int64?

    public init(ok: Bool, entries: Int, headHash: String, headEntry: Int64?, firstBadEntry: Int64? = nil, problem: String? = nil,
                checkpointEntry: Int64? = nil) {
        self.ok = ok
        self.entries = entries
        self.headHash = headHash
        self.headEntry = headEntry
        self.firstBadEntry = firstBadEntry
        self.problem = problem
        self.checkpointEntry = checkpointEntry
    }
}

/// Walks stored entries in id order and checks every hash and link; store-independent, so every
/// journal store verifies the same way.
public struct JournalChainVerifier {
    public struct Row {
        public var id: Int64
        public var fields: JournalChain.Fields
        public var prevHash: String?
        public var hash: String?
        public init(id: Int64, fields: JournalChain.Fields, prevHash: String?, hash: String?) {
            self.id = id
            self.fields = fields
            self.prevHash = prevHash
            self.hash = hash
        }
    }

    let checkpoint: JournalChain.Checkpoint?
    let checkpointEntry: Int64?
    private var kept: [Int64: String]
    private var expected = JournalChain.genesis
    private var entries = 0
    private var head: (Int64, String)?
    private var failure: (Int64, String)?

    /// `checkpoint`: the newest prune checkpoint, read first (nil when nothing was pruned).
    public init(checkpoint: JournalChain.Checkpoint?, checkpointEntry: Int64?) {
        self.checkpoint = checkpoint
        self.checkpointEntry = checkpointEntry
        kept = Dictionary(checkpoint?.kept.map { ($0.id, $0.hash) } ?? [], uniquingKeysWith: { first, _ in first })
    }

    /// False once an entry failed: the rest need not be read.
    public mutating func add(_ row: Row) -> Bool {
        guard failure == nil else { return false }
        entries += 1
        guard let stored = row.hash, let prev = row.prevHash else {
            failure = (row.id, "entry \(row.id) has no hash: it was written outside syncd")
            return false
        }
        let recomputed = JournalChain.hash(previous: prev, row.fields)
        guard recomputed == stored else {
            failure = (row.id, "entry \(row.id) was changed after it was written (its content no longer matches its hash)")
            return false
        }
        if let checkpoint, row.id <= checkpoint.throughEntry {
            // Kept through a prune (a cutover run): it must be one the checkpoint lists, unchanged.
            guard kept.removeValue(forKey: row.id) == stored else {
                failure = (row.id, "entry \(row.id) is older than the prune checkpoint \(checkpointEntry ?? 0) but is not one it kept: it was inserted")
                return false
            }
            head = (row.id, stored)
            return true
        }
        if checkpoint != nil, let missing = kept.keys.min() {
            failure = (missing, "entry \(missing), kept by the prune checkpoint \(checkpointEntry ?? 0), is missing: it was removed")
            return false
        }
        let fromCheckpoint = checkpoint.map { checkpoint in head.map { $0.0 <= checkpoint.throughEntry } ?? true } ?? false
        let link = fromCheckpoint ? checkpoint!.throughHash : expected
        guard prev == link else {
            let before = fromCheckpoint ? "entry \(checkpoint!.throughEntry), where the prune checkpoint \(checkpointEntry ?? 0) ends,"
                : head.map { "entry \($0.0)" } ?? "the start of the journal"
            failure = (row.id, "entry \(row.id) does not follow \(before): an entry was removed or inserted between them")
            return false
        }
        expected = stored
        head = (row.id, stored)
        return true
    }

    public func finish() -> JournalVerification {
        var failure = self.failure
        if failure == nil, let missing = kept.keys.min() {
            failure = (missing, "entry \(missing), kept by the prune checkpoint \(checkpointEntry ?? 0), is missing: it was removed")
        }
        return JournalVerification(ok: failure == nil, entries: entries, headHash: head?.1 ?? JournalChain.genesis, headEntry: head?.0,
                                   firstBadEntry: failure?.0, problem: failure?.1, checkpointEntry: checkpointEntry)
    }
}
