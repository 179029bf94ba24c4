import Foundation
import Testing
@testable import SyncCore

@Suite struct GateTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let policy = GatePolicy(lagBudgetSeconds: 30, checkMaxAgeSeconds: 900, ratioThreshold: 0.99999, sampleMaxAgeSeconds: 10)

    func sample(_ state: SyncState = .inSync, lag: Double? = 0, age: Double = 1, errors: [String] = []) -> Sample {
        Sample(time: now.addingTimeInterval(-age), state: state, lagSeconds: lag, lagVolume: 0, unit: .bytes, errors: errors)
    }

    func check(ratio: Double? = 1.0, age: Double = 60, error: String? = nil) -> CheckSummary {
        CheckSummary(finishedAt: now.addingTimeInterval(-age), ratio: ratio, countRatio: 1.0, error: error)
    }

    func evaluate(_ sample: Sample?, _ check: CheckSummary?) -> SourceVerdict {
        Gate.evaluate(source: "pg", policy: policy, sample: sample, check: check, now: now)
    }

    @Test func healthySourceWithFreshGoodCheckPasses() {
        let verdict = evaluate(sample(.syncing, lag: 2), check())
        #expect(verdict.status == .pass)
        #expect(verdict.reasons.isEmpty)
        #expect(verdict.checkAgeSeconds == 60)
        #expect(verdict.sampleAgeSeconds == 1)
    }

    @Test("a check made against other servers than the sample names (a failover since) fails the gate until a new check")
    func aCheckOfAnotherTopologyFails() {
        var current = sample()
        current.topologyStamp = "primary master 10.0.0.2:6379 (sentinel config epoch 2)"
        var old = check()
        old.topologyStamp = "primary master 10.0.0.1:6379 (sentinel config epoch 1)"
        let verdict = evaluate(current, old)
        #expect(verdict.status == .fail)
        #expect(verdict.reasons.count == 1 && verdict.reasons[0].contains("the roles moved") && verdict.reasons[0].contains("10.0.0.1:6379"), "\(verdict.reasons)")
        var unstamped = check()
        unstamped.topologyStamp = nil
        #expect(evaluate(current, unstamped).status == .fail, "a check that recorded no roles is not taken as this topology's")
        var same = check()
        same.topologyStamp = current.topologyStamp
        #expect(evaluate(current, same).status == .pass)
        #expect(evaluate(sample(), old).status == .pass, "sources whose roles never move carry no stamp")
    }

    @Test("a partial check against other servers does not merge into a check of either")
    func partialChecksOfDifferentTopologiesDoNotMerge() {
        var full = CheckSummary.combining([ScopeSummary(scope: "db0", finishedAt: now, ratio: 1, countRatio: 1),
                                           ScopeSummary(scope: "db1", finishedAt: now, ratio: 1, countRatio: 1)],
                                          error: nil, partial: false, complete: true, fallback: now)
        full.topologyStamp = "primary master a:1 (sentinel config epoch 1)"
        var partial = CheckSummary.combining([ScopeSummary(scope: "db0", finishedAt: now, ratio: 1, countRatio: 1)],
                                             error: nil, partial: true, complete: false, fallback: now)
        partial.topologyStamp = "primary master b:1 (sentinel config epoch 2)"
        var current = sample()
        current.topologyStamp = partial.topologyStamp
        #expect(evaluate(current, full.merging(partial)).status == .fail)
        partial.topologyStamp = full.topologyStamp
        current.topologyStamp = full.topologyStamp
        #expect(evaluate(current, full.merging(partial)).status == .pass)
    }

    @Test func noCheckFailsClosed() {
        let verdict = evaluate(sample(), nil)
        #expect(verdict.status == .fail)
        #expect(verdict.reasons == ["no consistency check has run"])
    }

    @Test func noSampleFailsClosed() {
        let verdict = evaluate(nil, check())
        #expect(verdict.status == .fail)
        #expect(verdict.reasons == ["no sample has been taken yet"])
    }

    @Test func staleSampleFails() {
        let verdict = evaluate(sample(age: 11), check())
        #expect(verdict.status == .fail)
        #expect(verdict.reasons.count == 1)
        #expect(verdict.reasons[0].contains("latest sample is 11.0 s old"))
    }

    @Test func lagOverBudgetFailsAndAtBudgetPasses() {
        #expect(evaluate(sample(.lagging, lag: 30.5), check()).reasons == ["lag 30.5 s exceeds the budget of 30.0 s"])
        #expect(evaluate(sample(.syncing, lag: 30), check()).status == .pass)
    }

    @Test func unknownLagFails() {
        #expect(evaluate(sample(lag: nil), check()).reasons == ["lag is unknown"])
    }

    @Test(arguments: [SyncState.unreachable, .broken, .paused])
    func unhealthyStatesFailWithTheirErrors(_ state: SyncState) {
        let verdict = evaluate(sample(state, lag: state == .unreachable ? nil : 0, errors: ["why it is so"]), check())
        #expect(verdict.status == .fail)
        #expect(verdict.reasons == ["source is \(state.rawValue): why it is so"])
    }

    @Test func ratioBelowThresholdFailsAndAtThresholdPasses() {
        let below = evaluate(sample(), check(ratio: 0.999989))
        #expect(below.reasons == ["consistency ratio 0.9999890 is below the threshold 0.9999900"])
        #expect(evaluate(sample(), check(ratio: 0.99999)).status == .pass)
    }

    @Test func staleOrErroredCheckFails() {
        #expect(evaluate(sample(), check(age: 901)).reasons == ["latest consistency check is 901.0 s old (max age 900.0 s)"])
        #expect(evaluate(sample(), check(ratio: nil, error: "DR unreachable")).reasons == ["latest consistency check failed: DR unreachable"])
    }

    @Test func everyReasonIsListed() {
        let verdict = evaluate(sample(.paused, lag: 45, errors: ["replay paused"]), nil)
        #expect(verdict.reasons.count == 3)
    }

    @Test func combinePassesOnlyWhenAllPassAndSomethingWasJudged() {
        let pass = evaluate(sample(), check())
        let fail = evaluate(sample(), nil)
        #expect(Gate.combine([pass, pass], at: now).status == .pass)
        #expect(Gate.combine([pass, fail], at: now).status == .fail)
        #expect(Gate.combine([], at: now).status == .fail)
    }

    @Test func verdictJSONUsesSnakeCaseFields() throws {
        let verdict = Gate.combine([evaluate(sample(), nil)], at: now)
        let json = try JSONValue.from(verdict)
        #expect(json["status"] == .string("fail"))
        guard case let .array(sources)? = json["sources"] else { Issue.record("no sources array"); return }
        #expect(sources[0]["lag_budget_seconds"] == .number(30))
        #expect(sources[0]["reasons"] == .array([.string("no consistency check has run")]))
    }
}
