import Testing
@testable import PostgresSource

@Suite struct TableSQLTests {
    let composite = try! TableSQL(schema: "public", table: "Orders", columns: [
        ColumnInfo(name: "region", type: "text", typeName: "text", category: "S", keyPosition: 1),
        ColumnInfo(name: "seq", type: "integer", typeName: "int4", category: "N", keyPosition: 2),
        ColumnInfo(name: "amount", type: "numeric(12,2)", typeName: "numeric", category: "N"),
        ColumnInfo(name: "blob", type: "bytea", typeName: "bytea", category: "U"),
    ])

    @Test func keysOrderBytewiseAndBoundsCastBackToTheirTypes() throws {
        let (sql, parameters) = try composite.predicate(KeyRange(lower: ["a", "1"], upper: ["b", "7"]))
        #expect(sql == #"("region" COLLATE "C", "seq") >= ($1::text, $2::integer) AND ("region" COLLATE "C", "seq") < ($3::text, $4::integer)"#)
        #expect(parameters == ["a", "1", "b", "7"])
        #expect(try composite.predicate(.all).sql == "true")
    }

    @Test func rowHashIsTheRecordTextWithNumericScaleAndJSONNormalised() throws {
        #expect(try composite.rowHash() == #"md5(ROW("region", "seq", trim_scale("amount"), "blob")::text)"#)
        #expect(try composite.digest(.all).sql.contains("bit_xor(f)"))
        let json = try TableSQL(schema: "s", table: "t", columns: [
            ColumnInfo(name: "id", type: "bigint", typeName: "int8", category: "N", keyPosition: 1),
            ColumnInfo(name: "doc", type: "json", typeName: "json", category: "U"),
        ])
        #expect(try json.rowHash() == #"md5(ROW("id", "doc"::jsonb)::text)"#)
    }

    @Test func fingerprintsHashBinaryValuesWhereTheTypeHashIsExactAndTextElsewhere() throws {
        let table = try TableSQL(schema: "s", table: "t", columns: [
            ColumnInfo(name: "id", type: "bigint", typeName: "int8", category: "N", keyPosition: 1),
            ColumnInfo(name: "name", type: "text", typeName: "text", category: "S"),
            ColumnInfo(name: "ratio", type: "real", typeName: "float4", category: "N"),
            ColumnInfo(name: "doc", type: "json", typeName: "json", category: "U"),
            ColumnInfo(name: "span", type: "interval", typeName: "interval", category: "T"),
            ColumnInfo(name: "tags", type: "integer[]", typeName: "_int4", category: "A"),
        ])
        let record = #"hash_record_extended(ROW("id", "id" >> 32, "name" COLLATE "C", float8send("ratio"::float8), "doc"::jsonb::text COLLATE "C", "span"::text COLLATE "C", "tags"::text COLLATE "C"), 0)"#
        #expect(try table.recordFingerprint() == record)
        let chain = #"hashtextextended("tags"::text COLLATE "C", hashtextextended("span"::text COLLATE "C", hashtextextended("doc"::jsonb::text COLLATE "C", "#
            + #"hashtextextended(encode(float8send("ratio"::float8), 'hex'), hashtextextended("name"::text COLLATE "C", hashint8extended("id", hashint8extended("id" >> 32, 0::int8)))))))"#
        #expect(try table.rowFingerprint() == "coalesce(\(chain), \(record))", "a chain of strict seeded hashes; rows with a NULL take the record hash")
    }

    @Test func quickFingerprintsChainTheColumnsSeededHashesAndFallBackForNulls() throws {
        let table = try TableSQL(schema: "s", table: "t", columns: [
            ColumnInfo(name: "id", type: "bigint", typeName: "int8", category: "N", keyPosition: 1),
            ColumnInfo(name: "at", type: "timestamp with time zone", typeName: "timestamptz", category: "D"),
            ColumnInfo(name: "tags", type: "integer[]", typeName: "_int4", category: "A"),
        ])
        let chain = #"hashtextextended("tags"::text COLLATE "C", timestamp_hash_extended("at"::timestamp, hashint8extended("id", 0::int8)))"#
        #expect(try table.quickFingerprint() == "coalesce(\(chain), \(try table.recordFingerprint()))")
        let (sql, _) = try table.bucketDigests(KeyRange.all, boundaries: [["5"]])
        #expect(sql.contains(chain), "bisection narrows with quick fingerprints")
        let (full, _) = try table.bucketDigests(KeyRange.all, boundaries: [["5"]], full: true)
        let fingerprint = try table.rowFingerprint()
        #expect(!full.contains(chain) && full.contains(fingerprint))
        let (leaves, _) = try table.rows([KeyRange.all])
        #expect(leaves.contains("\(fingerprint)::text AS f"), "leaves carry the full fingerprint")
    }

    @Test func manyLeafRangesAreReadInOneQueryWithTheirOwnParameters() throws {
        let (sql, parameters) = try composite.rows([KeyRange(lower: ["a", "1"], upper: ["a", "9"]), KeyRange(lower: ["m", "2"], upper: nil)])
        #expect(sql.contains(#"WHERE (("region" COLLATE "C", "seq") >= ($1::text, $2::integer) AND ("region" COLLATE "C", "seq") < ($3::text, $4::integer)) OR (("region" COLLATE "C", "seq") >= ($5::text, $6::integer))"#))
        #expect(sql.hasSuffix(#"ORDER BY "region" COLLATE "C", "seq""#))
        #expect(parameters == ["a", "1", "a", "9", "m", "2"])
    }

    @Test func singleNonTextKeysBucketByBinarySearch() throws {
        let table = try TableSQL(schema: "s", table: "t", columns: [
            ColumnInfo(name: "id", type: "bigint", typeName: "int8", category: "N", keyPosition: 1),
        ])
        #expect(table.bucketsByBinarySearch)
        #expect(!composite.bucketsByBinarySearch)
        let (sql, parameters) = try table.bucketDigests(KeyRange(lower: ["10"], upper: nil), boundaries: [["20"], ["30"]])
        #expect(sql.contains(#"width_bucket("id", $2::bigint[])"#))
        #expect(parameters == ["10", #"{"20","30"}"#])
        #expect(BisectionPlan.forTable(table).fanout == 256)
        #expect(BisectionPlan.forTable(composite).fanout == 16)
    }

    @Test func identifiersAreQuoted() throws {
        let (sql, _) = try composite.digest(.all)
        #expect(sql.contains(#"FROM "public"."Orders""#))
    }

    @Test func bucketsSplitAtBoundariesInOneScan() throws {
        let (sql, parameters) = try composite.bucketDigests(KeyRange(lower: ["a", "1"], upper: nil), boundaries: [["m", "5"], ["t", "2"]])
        #expect(sql.contains(#"CASE WHEN ("region" COLLATE "C", "seq") < ($3::text, $4::integer) THEN 0 WHEN ("region" COLLATE "C", "seq") < ($5::text, $6::integer) THEN 1 ELSE 2 END"#))
        #expect(parameters == ["a", "1", "m", "5", "t", "2"])
    }

    @Test func bisectionPlanSplitsIntoFanoutPartsAndStopsAtLeaves() {
        let plan = BisectionPlan(fanout: 16, leafRows: 2048)
        #expect(plan.step(forRows: 1_000_000) == 62_500)
        #expect(plan.step(forRows: 10) == 1)
        #expect(plan.isLeaf(primaryRows: 2048, drRows: 3))
        #expect(!plan.isLeaf(primaryRows: 3, drRows: 2049), "a range is a leaf only when both sides are small")
    }
}

@Suite struct IntegerBucketsTests {
    @Test func aLargeDenseTableSplitsIntoBucketsOfAbout1024Keys() throws {
        let split = try #require(IntegerBuckets.plan(minKey: 1, maxKey: 5_000_000, estimatedRows: 5_000_000, typeMaximum: Int64.max))
        #expect(split.count == 4879 && split.width == 1025 && split.lower == 1)
        #expect(split.upper == 1 + 4879 * 1025 && split.upper > 5_000_000, "every key up to the maximum is inside")
        #expect(split.range(ofBucket: 0) == KeyRange(lower: ["1"], upper: ["1026"]))
        #expect(split.range(ofBucket: -1) == KeyRange(lower: nil, upper: ["1"]))
        #expect(split.range(ofBucket: split.count) == KeyRange(lower: [String(split.upper)], upper: nil))
        #expect(split.range(ofBucket: split.count - 1).upper == [String(split.upper)], "the last bucket ends where the outer one starts")
    }

    @Test func theBucketArithmeticPutsEveryKeyInsideItsRange() throws {
        for (low, high) in [(Int64(-1_000_000), Int64(3_000_000)), (7, 250_007), (Int64.min / 4, Int64.max / 4)] {
            let split = try #require(IntegerBuckets.plan(minKey: low, maxKey: high, estimatedRows: 1_000_000, typeMaximum: Int64.max))
            for key in [low, low + 1, low + (high - low) / 3, high - 1, high] {
                let bucket = Int((key - split.lower) / split.width)   // the SQL's ELSE branch
                let range = split.range(ofBucket: bucket)
                #expect(bucket >= 0 && bucket < split.count)
                #expect(Int64(range.lower![0])! <= key && key < Int64(range.upper![0])!, "key \(key) outside bucket \(bucket)")
            }
        }
    }

    @Test func smallTablesAndBoundsOutsideTheKeyTypeGetNoArithmeticSplit() {
        #expect(IntegerBuckets.plan(minKey: 1, maxKey: 50_000, estimatedRows: 50_000, typeMaximum: Int64.max) == nil, "small: one digest is cheaper")
        #expect(IntegerBuckets.plan(minKey: 1, maxKey: 10_000_000, estimatedRows: 20_000, typeMaximum: Int64.max) == nil, "sparse keys, few rows")
        #expect(IntegerBuckets.plan(minKey: Int64.min, maxKey: Int64.max, estimatedRows: 1_000_000, typeMaximum: Int64.max) == nil, "span overflows")
        #expect(IntegerBuckets.plan(minKey: Int64.min / 2, maxKey: Int64.max / 2, estimatedRows: 1_000_000, typeMaximum: Int64.max) == nil,
                "the buckets' extent overflows")
        #expect(IntegerBuckets.plan(minKey: 1, maxKey: Int64(Int32.max), estimatedRows: 200_000, typeMaximum: Int64(Int32.max)) == nil,
                "the outer bound would not fit an int4 key")
        #expect(IntegerBuckets.plan(minKey: 1, maxKey: 2_000_000, estimatedRows: -1, typeMaximum: Int64.max)?.count == 1952,
                "never analysed: the key span is the estimate")
    }
}
