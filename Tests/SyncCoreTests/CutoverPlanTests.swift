import Foundation
import Testing
@testable import SyncCore

@Suite struct CutoverPlanTests {
    @Test func aPlanReadsStagesInOrderWithEachSourcesPolicy() throws {
        let plan = try CutoverPlanLoader.parse(yaml: """
        stages:
          - name: databases
            sources:
              - source: pg-main
                drain_timeout: 45s
                ratio_threshold: 1.0
                pause_after: true
              - {source: redis, required: false, on_failure: retry, retries: 3, retry_backoff: 500ms}
          - sources:
              - source: kafka
                on_failure: abort
              - {source: redis-copy, drain: false}
        """, file: "plan.yaml")
        #expect(plan.stages.map(\.name) == ["databases", "stage 2"])
        #expect(plan.sources == ["pg-main", "redis", "kafka", "redis-copy"])
        #expect(plan.stages[0].steps[0] == CutoverStep(source: "pg-main", drainTimeoutSeconds: 45, ratioThreshold: 1.0, pauseAfter: true))
        #expect(plan.stages[0].steps[1] == CutoverStep(source: "redis", required: false, onFailure: .retry, retries: 3, retryBackoffSeconds: 0.5))
        #expect(plan.stages[1].steps[0].onFailure == .abort && plan.stages[1].steps[0].retries == 0)
        #expect(plan.stages[1].steps[0].drain && !plan.stages[1].steps[1].drain)
    }

    @Test("plan errors name the file, the line and the key", arguments: [
        ("stages:\n  - sources:\n      - source: a\n        command: rm -rf /\n", 4, "stages[0].sources[0].command", "unknown key 'command'"),
        ("stages:\n  - sources:\n      - source: a\n        retries: 2\n", 4, "stages[0].sources[0].retries", "needs on_failure: retry"),
        ("stages:\n  - sources:\n      - source: a\n        ratio_threshold: 1.5\n", 4, "stages[0].sources[0].ratio_threshold", "at most 1"),
        ("stages:\n  - sources:\n      - source: a\n        on_failure: ignore\n", 4, "stages[0].sources[0].on_failure", "unknown on_failure 'ignore' (known: abort, retry, continue)"),
        ("stages:\n  - sources: [{source: a}]\n  - sources: [{source: a}]\n", 3, "stages[1].sources[0]", "appears twice"),
        ("stages:\n  - sources:\n      - source: a\n        drain: false\n        drain_timeout: 5s\n", 5, "stages[0].sources[0].drain_timeout", "needs drain: true"),
        ("stages: []\n", 1, "stages", "non-empty list of stages"),
        ("stage:\n  - sources: []\n", 2, "stage", "unknown key 'stage'"),
    ])
    func planErrorsAreNamed(yaml: String, line: Int, keyPath: String, message: String) {
        do {
            _ = try CutoverPlanLoader.parse(yaml: yaml, file: "plan.yaml")
            Issue.record("accepted: \(yaml)")
        } catch let error as ConfigError {
            #expect(error.file == "plan.yaml" && error.keyPath == keyPath && error.message.contains(message), "\(error)")
            #expect(error.line == line, "\(error)")
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test func aMissingPlanFileIsAConfigError() {
        #expect(throws: ConfigError.self) { try CutoverPlanLoader.load(file: "/nonexistent/plan.yaml") }
    }
}
