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
        #expect(try table.rowFingerprint() == #"hash_record_extended(ROW("id", "name" COLLATE "C", float8send("ratio"::float8), "doc"::jsonb, "span"::text COLLATE "C", "tags"::text COLLATE "C"), 0)"#)
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
