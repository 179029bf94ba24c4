/// How wide the first split of a whole table is: about one bucket per 1024 rows, so that an
/// unequal bucket is already a leaf, between 1024 and 16384 buckets. Nil for tables small enough
/// (up to 100 rows per bucket) that one digest and ordinary bisection cost less.
public func firstSplitBuckets(rows: Int64) -> Int? {
    let buckets = min(16384, max(1024, rows / 1024))
    return rows > buckets * 100 ? Int(buckets) : nil
}

/// Buckets of equal key width over a single integer key, computed by arithmetic in the scan
/// itself: the first split of an unequal table needs neither a key sample nor a binary search
/// per row. (Grouping still costs about a third of a digest scan, which is why an equal table
/// is not scanned this way from the start.)
///
/// Bucket -1 holds keys below `lower`, bucket i (0..<count) holds [lower + i·width,
/// lower + (i+1)·width), bucket `count` holds keys from `upper` on. The extent is read in the
/// check's snapshots, so the outer two stay empty unless a side is read outside one. Skewed keys
/// only make some buckets large; those are bisected further like any unequal range.
public struct IntegerBuckets: Sendable, Equatable {
    public let lower: Int64
    public let width: Int64
    public let count: Int
    /// `lower + count·width`; representable in the key's type by construction.
    public let upper: Int64

    /// Nil when the table is small, or when the buckets' bounds would not fit the key's type
    /// (`typeMaximum`), e.g. keys spanning more than half the int8 range.
    public static func plan(minKey: Int64, maxKey: Int64, estimatedRows: Int64, typeMaximum: Int64) -> IntegerBuckets? {
        guard minKey <= maxKey else { return nil }
        let (span, spanOverflow) = maxKey.subtractingReportingOverflow(minKey)
        guard !spanOverflow, span < Int64.max else { return nil }
        let keys = span + 1
        // The planner's estimate, unless the keys alone prove the table smaller (or it was never analysed).
        let rows = estimatedRows > 0 ? min(estimatedRows, keys) : keys
        guard let target = firstSplitBuckets(rows: rows) else { return nil }
        let width = span / Int64(target) + 1
        let count = span / width + 1
        let (extent, extentOverflow) = count.multipliedReportingOverflow(by: width)
        guard !extentOverflow else { return nil }
        let (upper, upperOverflow) = minKey.addingReportingOverflow(extent)
        guard !upperOverflow, upper <= typeMaximum else { return nil }
        return IntegerBuckets(lower: minKey, width: width, count: Int(count), upper: upper)
    }

    /// The key range of a bucket number the scan returned.
    public func range(ofBucket bucket: Int) -> KeyRange {
        if bucket < 0 { return KeyRange(lower: nil, upper: [String(lower)]) }
        if bucket >= count { return KeyRange(lower: [String(upper)], upper: nil) }
        let start = lower + Int64(bucket) * width
        return KeyRange(lower: [String(start)], upper: [String(start + width)])
    }
}
