import PostgresClient
import SyncCore

/// A column as the checker needs it: how to normalise it and where it sits in the primary key.
public struct ColumnInfo: Sendable, Equatable {
    public var name: String
    /// format_type() of the column, e.g. `numeric(14,2)`, used to cast key bounds back.
    public var type: String
    /// pg_type.typname, e.g. `numeric`, `jsonb`, `_int4`.
    public var typeName: String
    /// pg_type.typcategory: S string, N numeric, A array, ...
    public var category: String
    public var keyPosition: Int?
    /// Generated columns are compared but never written.
    public var generated: Bool
    /// A declared normalisation (rounding, truncation) compared instead of the column itself.
    public var expression: String?

    public init(name: String, type: String, typeName: String, category: String, keyPosition: Int? = nil, generated: Bool = false) {
        self.name = name
        self.type = type
        self.typeName = typeName
        self.category = category
        self.keyPosition = keyPosition
        self.generated = generated
    }

    /// What the checker reads: the column, or its declared normalisation.
    func sql() throws -> String {
        try expression ?? SQLText.quoteIdentifier(name)
    }

    /// Two sides agree on a column when they would produce the same normalised text.
    func comparable(with other: ColumnInfo) -> Bool {
        let jsonTypes: Set<String> = ["json", "jsonb"]
        if jsonTypes.contains(typeName) && jsonTypes.contains(other.typeName) { return name == other.name }
        return name == other.name && typeName == other.typeName
    }
}

/// A key range: lower bound inclusive, upper bound exclusive, nil = unbounded. Bounds are the
/// key columns' canonical text, taken from actual rows (or computed, for a single integer key).
public struct KeyRange: Sendable, Equatable {
    public var lower: [String]?
    public var upper: [String]?

    public static let all = KeyRange(lower: nil, upper: nil)
}

/// The SQL the checker runs for one table. Values travel as parameters; identifiers are quoted.
public struct TableSQL: Sendable {
    public let schema: String
    public let table: String
    public let columns: [ColumnInfo]
    public let keys: [ColumnInfo]
    /// The schema-qualified, quoted table name.
    let qualified: String
    /// The operator's row filter (`where`), applied to every read of the check on both sides.
    let rowFilter: String?
    /// What the check reads: the table, or only the rows the filter selects.
    var source: String { rowFilter.map { "(SELECT * FROM \(qualified) WHERE \($0)) AS filtered" } ?? qualified }

    public init(schema: String, table: String, columns: [ColumnInfo], rowFilter: String? = nil) throws {
        self.schema = schema
        self.table = table
        self.columns = columns
        self.rowFilter = rowFilter
        keys = columns.filter { $0.keyPosition != nil }.sorted { $0.keyPosition! < $1.keyPosition! }
        qualified = try SQLText.quoteIdentifier(schema) + "." + SQLText.quoteIdentifier(table)
    }

    public var displayName: String { "\(schema).\(table)" }

    /// A value whose text form is equal on both servers exactly when the values are equal. Most
    /// types print canonically once the session settings are pinned (TimeZone, DateStyle,
    /// IntervalStyle, extra_float_digits, bytea_output): only numeric scale and json text need work.
    static func normalised(_ column: ColumnInfo) throws -> String {
        let name = try column.sql()
        switch column.typeName {
        case "numeric": return "trim_scale(\(name))"
        case "json": return "\(name)::jsonb"
        case "float4": return "\(name)::float8"
        default: return name
        }
    }

    /// Key columns as text that casts back to the same value (`$n::type`).
    static func keyText(_ column: ColumnInfo) throws -> String {
        let name = try SQLText.quoteIdentifier(column.name)
        return column.typeName == "numeric" ? "trim_scale(\(name))::text" : "\(name)::text"
    }

    /// Key columns for ordering and range tests: text compares byte-wise (`COLLATE "C"`), so both
    /// servers order keys the same whatever their default collation.
    static func keyOrder(_ column: ColumnInfo) throws -> String {
        let name = try SQLText.quoteIdentifier(column.name)
        return column.category == "S" ? "\(name) COLLATE \"C\"" : name
    }

    /// md5 of the row's record text. Record output keeps NULL (`()`), the empty string (`("")`) and
    /// the string 'NULL' (`(NULL)`) apart and quotes values, so no column's text can run into the next.
    func rowHash() throws -> String {
        "md5(\(try rowText()))"
    }

    /// Single-column keys of a non-text type can be bucketed by binary search (`width_bucket`),
    /// which makes a wide fan-out cheap; text keys (byte order) and composite keys use CASE.
    public var bucketsByBinarySearch: Bool {
        keys.count == 1 && keys[0].category != "S"
    }

    func keyTuple() throws -> String {
        let parts = try keys.map(TableSQL.keyOrder)
        return parts.count == 1 ? parts[0] : "(\(parts.joined(separator: ", ")))"
    }

    func boundTuple(startingAt index: Int) -> String {
        let parts = keys.enumerated().map { offset, key in "$\(index + offset)::\(key.type)" }
        return parts.count == 1 ? parts[0] : "(\(parts.joined(separator: ", ")))"
    }

    /// WHERE clause for a range, and its parameters (numbered from `firstParameter`).
    func predicate(_ range: KeyRange, firstParameter: Int = 1) throws -> (sql: String, parameters: [String?]) {
        var clauses: [String] = []
        var parameters: [String?] = []
        let tuple = try keyTuple()
        if let lower = range.lower {
            clauses.append("\(tuple) >= \(boundTuple(startingAt: firstParameter + parameters.count))")
            parameters += lower.map { Optional($0) }
        }
        if let upper = range.upper {
            clauses.append("\(tuple) < \(boundTuple(startingAt: firstParameter + parameters.count))")
            parameters += upper.map { Optional($0) }
        }
        return (clauses.isEmpty ? "true" : clauses.joined(separator: " AND "), parameters)
    }

    /// The row's record text: what leaves compare (by md5).
    func rowText() throws -> String {
        "ROW(\(try columns.map(TableSQL.normalised).joined(separator: ", ")))::text"
    }

    /// The fields a column contributes to the row fingerprint: binary values where the type's own
    /// hash is as strict as the value (no text formatting), otherwise the binary send form or the
    /// text. Not strict: int8 and the 8-byte time types hash through a 32-bit fold (1 and 2^32
    /// collide), numeric's hash ignores the sign (5 and -5 collide, so do NaN and Infinity) and
    /// jsonb's inherits that, floats equate -0 and 0, arrays ignore dimensions, interval equates
    /// '1 day' and '24 hours', enums hash by OID (which differs between servers), money has no
    /// hash. int8 adds its high word, which makes the fold reversible. Text hashes in COLLATE "C":
    /// a nondeterministic collation would hash 'A' and 'a' alike.
    static func fingerprinted(_ column: ColumnInfo) throws -> String {
        let name = try column.sql()
        switch column.typeName {
        case "int2", "int4", "oid", "bool", "uuid", "bytea", "date":
            return name
        case "int8": return "\(name), \(name) >> 32"
        // numeric_send keeps the scale: a scale-only difference costs a bisection, then the leaves
        // (which trim the scale) find the rows equal.
        case "numeric", "time", "timestamp", "timestamptz": return "\(column.typeName)_send(\(name))"
        case "text", "varchar", "bpchar", "name": return "\(name) COLLATE \"C\""
        case "float4", "float8": return "float8send(\(name)::float8)"
        case "json": return "\(name)::jsonb::text COLLATE \"C\""
        default: return "\(name)::text COLLATE \"C\""
        }
    }

    /// The row's 64-bit fingerprint as a record hash (hash_record_extended keeps NULL apart from
    /// every value and weights columns by position). Rows with a NULL column take this one.
    func recordFingerprint() throws -> String {
        "hash_record_extended(ROW(\(try columns.map(TableSQL.fingerprinted).joined(separator: ", "))), 0)"
    }

    /// A column's step in the full fingerprint chain: a seeded hash of a form as strict as the
    /// value (see `fingerprinted`); binary send forms are hashed as hex text, the cheapest seeded
    /// hash of bytes that SQL can call.
    static func strictStep(_ column: ColumnInfo, seed: String) throws -> String {
        let name = try column.sql()
        switch column.typeName {
        case "int2", "int4", "oid", "bool", "uuid", "text", "varchar", "name", "bpchar":
            return try quickStep(column, seed: seed)
        case "int8": return "hashint8extended(\(name), hashint8extended(\(name) >> 32, \(seed)))"
        case "time", "timestamp", "timestamptz": return "hashtextextended(encode(\(column.typeName)_send(\(name)), 'hex'), \(seed))"
        case "float4", "float8": return "hashtextextended(encode(float8send(\(name)::float8), 'hex'), \(seed))"
        case "bytea": return "hashtextextended(encode(\(name), 'hex'), \(seed))"
        case "json": return "hashtextextended(\(name)::jsonb::text COLLATE \"C\", \(seed))"
        // numeric as text keeps the scale, like numeric_send in the record form.
        default: return "hashtextextended(\(name)::text COLLATE \"C\", \(seed))"
        }
    }

    /// The row's 64-bit fingerprint: a chain of seeded hashes, each column's seeded with the hash
    /// of the columns before it (no record is built: about a third cheaper than the record hash).
    /// Strict functions give NULL for a row with a NULL column: such rows take the record hash.
    /// Wide tables (deep nesting) use the record hash throughout.
    func rowFingerprint() throws -> String {
        try chainedFingerprint(TableSQL.strictStep)
    }

    /// Columns chained through `step`, each seeded with the hash of those before it; the record
    /// hash for rows with a NULL column (the chain is NULL then) and for wide tables.
    private func chainedFingerprint(_ step: (ColumnInfo, String) throws -> String) throws -> String {
        guard columns.count <= 64 else { return try recordFingerprint() }
        var chain = "0::int8"
        for column in columns { chain = try step(column, chain) }
        return "coalesce(\(chain), \(try recordFingerprint()))"
    }

    /// A column's step in the quick fingerprint: its type's own seeded hash, given the hash of the
    /// columns before it as the seed, or its text's.
    static func quickStep(_ column: ColumnInfo, seed: String) throws -> String {
        let name = try column.sql()
        switch column.typeName {
        case "int2": return "hashint2extended(\(name), \(seed))"
        case "int4": return "hashint4extended(\(name), \(seed))"
        case "int8": return "hashint8extended(\(name), \(seed))"
        case "oid": return "hashoidextended(\(name), \(seed))"
        case "bool": return "hashint4extended(\(name)::int4, \(seed))"
        case "numeric": return "hash_numeric_extended(\(name), \(seed))"
        case "uuid": return "uuid_hash_extended(\(name), \(seed))"
        case "text", "varchar", "name": return "hashtextextended(\(name)::text COLLATE \"C\", \(seed))"
        case "bpchar": return "hashbpcharextended(\(name) COLLATE \"C\", \(seed))"
        case "float4", "float8": return "hashfloat8extended(\(name)::float8, \(seed))"
        case "time": return "time_hash_extended(\(name), \(seed))"
        case "timestamp": return "timestamp_hash_extended(\(name), \(seed))"
        case "timestamptz": return "timestamp_hash_extended(\(name)::timestamp, \(seed))"
        case "interval": return "interval_hash_extended(\(name), \(seed))"
        case "jsonb": return "jsonb_hash_extended(\(name), \(seed))"
        case "json": return "jsonb_hash_extended(\(name)::jsonb, \(seed))"
        default: return "hashtextextended(\(name)::text COLLATE \"C\", \(seed))"
        }
    }

    /// A cheaper fingerprint, only for localising differences: the chain of the columns' own
    /// seeded type hashes. It is loose where those hashes are (5 and -5, 1 and 2^32, -0 and 0
    /// hash alike), so the checker proves afterwards, with the full fingerprint, that the ranges
    /// it found account for the whole difference. Rows with a NULL column take the record hash.
    func quickFingerprint() throws -> String {
        try chainedFingerprint(TableSQL.quickStep)
    }

    /// Count and an order-independent 64-bit fingerprint (XOR of per-row fingerprints; rows are
    /// unique by key, so nothing cancels). Leaves are still compared by md5 of the row text, so a
    /// fingerprint that differed between server versions could only make a check slower, never
    /// hide a difference.
    static let digestColumns = """
        count(*)::text AS n, coalesce(bit_xor(f), 0)::text AS x
        """

    /// Count and fingerprint of one range, in one scan.
    public func digest(_ range: KeyRange) throws -> (sql: String, parameters: [String?]) {
        let (predicate, parameters) = try predicate(range)
        return ("SELECT \(TableSQL.digestColumns) FROM (SELECT \(try rowFingerprint()) AS f FROM \(source) WHERE \(predicate)) s", parameters)
    }

    /// Digests of consecutive sub-ranges split at `boundaries` (ascending), in one scan: bucket i
    /// holds keys in [boundary[i-1], boundary[i]). Quick fingerprints unless `full`.
    public func bucketDigests(_ range: KeyRange, boundaries: [[String]], full: Bool = false) throws -> (sql: String, parameters: [String?]) {
        var (predicate, parameters) = try predicate(range)
        let tuple = try keyTuple()
        let bucket: String
        if boundaries.isEmpty {
            bucket = "0"
        } else if bucketsByBinarySearch {
            // width_bucket counts the thresholds <= the key: bucket i holds [boundary i-1, boundary i).
            bucket = "width_bucket(\(tuple), $\(parameters.count + 1)::\(keys[0].type)[])"
            parameters.append(postgresArray(boundaries.map { $0[0] }))
        } else {
            var cases: [String] = []
            for (index, boundary) in boundaries.enumerated() {
                cases.append("WHEN \(tuple) < \(boundTuple(startingAt: parameters.count + 1)) THEN \(index)")
                parameters += boundary.map { Optional($0) }
            }
            bucket = "CASE \(cases.joined(separator: " ")) ELSE \(boundaries.count) END"
        }
        return (try groupedDigests(bucket: bucket, predicate: predicate, full: full), parameters)
    }

    /// Count and fingerprint per bucket expression `b`, in one scan of the rows `predicate` selects.
    /// Quick fingerprints unless `full`.
    func groupedDigests(bucket: String, predicate: String, full: Bool) throws -> String {
        """
        SELECT b, \(TableSQL.digestColumns)
        FROM (SELECT \(bucket) AS b, \(try full ? rowFingerprint() : quickFingerprint()) AS f FROM \(source) WHERE \(predicate)) s GROUP BY b
        """
    }

    /// The largest value of a single integer key's type; nil for any other key.
    public var integerKeyMaximum: Int64? {
        guard keys.count == 1 else { return nil }
        switch keys[0].typeName {
        case "int2": return Int64(Int16.max)
        case "int4": return Int64(Int32.max)
        case "int8": return Int64.max
        default: return nil
        }
    }

    /// Smallest and largest key (two index probes) and the planner's row estimate (-1 if never analysed).
    public func keyExtent() throws -> (sql: String, parameters: [String?]) {
        let key = try SQLText.quoteIdentifier(keys[0].name)
        return ("""
            SELECT (SELECT min(\(key)) FROM \(source))::text, (SELECT max(\(key)) FROM \(source))::text,
                   (SELECT reltuples::bigint FROM pg_class WHERE oid = $1::regclass)::text
            """, [qualified])
    }

    /// Digests of a whole table's integer-key buckets, in one scan (see `IntegerBuckets`).
    public func bucketDigests(_ buckets: IntegerBuckets, full: Bool = false) throws -> (sql: String, parameters: [String?]) {
        let key = try SQLText.quoteIdentifier(keys[0].name)
        let bucket = "CASE WHEN \(key) < $1::int8 THEN -1 WHEN \(key) >= $2::int8 THEN $3::int8 ELSE (\(key)::int8 - $1::int8) / $4::int8 END"
        return (try groupedDigests(bucket: bucket, predicate: "true", full: full),
                [String(buckets.lower), String(buckets.upper), String(buckets.count), String(buckets.width)])
    }

    /// Every `step`-th key of a range, in key order: split points taken from real rows.
    public func sampleKeys(_ range: KeyRange, step: Int) throws -> (sql: String, parameters: [String?]) {
        let (predicate, parameters) = try predicate(range)
        let texts = try keys.enumerated().map { "\(try TableSQL.keyText($1)) AS k\($0)" }.joined(separator: ", ")
        let order = try keys.map(TableSQL.keyOrder).joined(separator: ", ")
        let outputs = keys.indices.map { "k\($0)" }.joined(separator: ", ")
        return ("""
            SELECT \(outputs) FROM (SELECT \(texts), row_number() OVER (ORDER BY \(order)) AS rn FROM \(source) WHERE \(predicate)) s
            WHERE rn % \(max(1, step)) = 0 ORDER BY rn
            """, parameters)
    }

    /// Keys, row hashes and full fingerprints of (small, disjoint) ranges, in key order: one query
    /// for many leaves.
    public func rows(_ ranges: [KeyRange]) throws -> (sql: String, parameters: [String?]) {
        var clauses: [String] = []
        var parameters: [String?] = []
        for range in ranges {
            let (clause, values) = try predicate(range, firstParameter: parameters.count + 1)
            clauses.append(ranges.count == 1 ? clause : "(\(clause))")
            parameters += values
        }
        let predicate = clauses.joined(separator: " OR ")
        let texts = try keys.enumerated().map { "\(try TableSQL.keyText($1)) AS k\($0)" }.joined(separator: ", ")
        let order = try keys.map(TableSQL.keyOrder).joined(separator: ", ")
        return ("SELECT \(texts), \(try rowHash()) AS h, \(try rowFingerprint())::text AS f FROM \(source) WHERE \(predicate) ORDER BY \(order)", parameters)
    }
}

// MARK: reconciliation

extension TableSQL {
    /// `("k1", "k2") IN (($1::t1, $2::t2), ...)` for `count` keys.
    func keysIn(count: Int, firstParameter: Int = 1) throws -> String {
        let columns = try keys.map { try SQLText.quoteIdentifier($0.name) }
        let tuples = (0..<count).map { index in boundTuple(startingAt: firstParameter + index * keys.count) }
        let left = columns.count == 1 ? columns[0] : "(\(columns.joined(separator: ", ")))"
        return "\(left) IN (\(tuples.joined(separator: ", ")))"
    }

    var writableColumns: [ColumnInfo] { columns.filter { !$0.generated } }

    /// Current rows of the given keys, every writable column as text (cast back with `$n::type`).
    func selectRows(keyCount: Int) throws -> String {
        let texts = try writableColumns.map { "\(try SQLText.quoteIdentifier($0.name))::text" }.joined(separator: ", ")
        let keyTexts = try keys.map { try TableSQL.keyText($0) }.joined(separator: ", ")
        return "SELECT \(keyTexts), \(texts) FROM \(qualified) WHERE \(try keysIn(count: keyCount))"
    }

    /// Insert-or-update of `rowCount` rows: re-running it leaves the same rows.
    func upsert(rowCount: Int) throws -> String {
        let columns = writableColumns
        let names = try columns.map { try SQLText.quoteIdentifier($0.name) }
        let rows = (0..<rowCount).map { row in
            "(" + columns.enumerated().map { "$\(row * columns.count + $0.offset + 1)::\($0.element.type)" }.joined(separator: ", ") + ")"
        }
        let conflict = try keys.map { try SQLText.quoteIdentifier($0.name) }.joined(separator: ", ")
        let updates = try columns.filter { $0.keyPosition == nil }.map { column -> String in
            let name = try SQLText.quoteIdentifier(column.name)
            return "\(name) = EXCLUDED.\(name)"
        }
        let action = updates.isEmpty ? "DO NOTHING" : "DO UPDATE SET \(updates.joined(separator: ", "))"
        return "INSERT INTO \(qualified) (\(names.joined(separator: ", "))) VALUES \(rows.joined(separator: ", ")) ON CONFLICT (\(conflict)) \(action)"
    }

    func delete(keyCount: Int) throws -> String {
        "DELETE FROM \(qualified) WHERE \(try keysIn(count: keyCount))"
    }

    /// Keys and row hashes of the given keys, to re-verify what a reconciliation touched.
    func hashes(keyCount: Int) throws -> String {
        let keyTexts = try keys.map { try TableSQL.keyText($0) }.joined(separator: ", ")
        return "SELECT \(keyTexts), \(try rowHash()) FROM \(qualified) WHERE \(try keysIn(count: keyCount))"
    }

    /// How many rows fit in one batch without passing PostgreSQL's 65535 bind parameters.
    var batchRows: Int {
        max(1, min(500, 60_000 / max(1, writableColumns.count)))
    }
}

/// How one key stands on each side right now: its row hash there, nil where the row is absent.
struct KeyComparison {
    var key: [String]
    var primary: String?
    var dr: String?

    /// nil when both sides agree (equal rows, or both absent).
    var difference: DiffKind? {
        switch (primary, dr) {
        case (nil, nil): nil
        case (_?, nil): .missing
        case (nil, _?): .extra
        case let (left?, right?): left == right ? nil : .changed
        }
    }
}

extension TableSQL {
    /// Looks keys up on both sides at once (in batches) and compares their row hashes.
    func compareKeys(_ keys: [[String]], primary: PGConnection, dr: PGConnection) async throws -> [KeyComparison] {
        var result: [KeyComparison] = []
        for chunk in keys.chunks(of: batchRows) {
            let parameters = chunk.flatMap { $0.map { Optional($0) } }
            let query = try hashes(keyCount: chunk.count)
            async let left = primary.query(query, parameters)
            async let right = dr.query(query, parameters)
            let keyCount = self.keys.count
            // By bytes: the lookup must not fold the NFD spelling of a key into its NFC one.
            func byKey(_ rows: PGRows) -> [[ByteKey]: String] {
                Dictionary(rows.rows.map { ($0.prefix(keyCount).map { ($0 ?? "").byteKey }, $0.last.flatMap { $0 } ?? "") },
                           uniquingKeysWith: { first, _ in first })
            }
            let (primaryHashes, drHashes) = (byKey(try await left), byKey(try await right))
            result += chunk.map { key in
                let id = key.map(\.byteKey)
                return KeyComparison(key: key, primary: primaryHashes[id], dr: drHashes[id])
            }
        }
        return result
    }
}
