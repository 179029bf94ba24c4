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

    @Test func rowHashSeparatesNullEmptyAndNormalisesPerType() throws {
        let hash = try composite.rowHash()
        #expect(hash.hasPrefix("md5(convert_to(concat("))
        #expect(hash.contains(#"coalesce(length("region"::text)::text || ':' || "region"::text, '~')"#))
        #expect(hash.contains(#"trim_scale("amount")::text"#))
        #expect(hash.contains(#"encode("blob", 'hex')"#))
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
        let plan = BisectionPlan(fanout: 16, leafRows: 512)
        #expect(plan.step(forRows: 1_000_000) == 62_500)
        #expect(plan.step(forRows: 10) == 1)
        #expect(plan.isLeaf(primaryRows: 512, drRows: 3))
        #expect(!plan.isLeaf(primaryRows: 3, drRows: 513), "a range is a leaf only when both sides are small")
    }
}
