/// The OpenAPI 3.1 document of every route, served at `GET /openapi.yaml` (no token). The suite
/// runs schemathesis against a running syncd with it: every answer must be one it lists.
public enum OpenAPIDocument {
    public static let yaml = #"""
openapi: 3.1.0
info:
  title: syncd API
  version: "2"
  summary: Replication lag, consistency checks and the DR cutover gate.
  description: |
    syncd watches replicated data stores (PostgreSQL, Redis, Kafka, S3), checks that their DR copies
    are complete and identical, and answers a cutover gate. Every call but /healthz and
    /openapi.yaml needs a bearer token: the read token for GET, the admin token for anything that
    acts. Every error answers one JSON shape (Error). A 502, 503 or 504 means a data store did not
    answer or syncd is stopping; 503 from /v1/gate means the gate fails.
servers:
  - url: /
security:
  - bearer: []
tags:
  - name: gate
  - name: sources
  - name: checks
  - name: cutovers
  - name: journal
  - name: service
paths:
  /healthz:
    get:
      tags: [service]
      operationId: health
      summary: Liveness; no token.
      security: []
      responses:
        "200":
          description: syncd is up.
          content:
            application/json:
              schema:
                type: object
                required: [status]
                properties:
                  status: {const: ok}
  /openapi.yaml:
    get:
      tags: [service]
      operationId: openapi
      summary: This document; no token.
      security: []
      responses:
        "200":
          description: The OpenAPI 3.1 document.
          content:
            application/yaml:
              schema: {type: string}
  /metrics:
    get:
      tags: [service]
      operationId: metrics
      summary: Prometheus metrics (text exposition format).
      responses:
        "200":
          description: Every metric with a HELP line.
          content:
            text/plain:
              schema: {type: string}
        "400": {$ref: "#/components/responses/BadRequest"}
        "401": {$ref: "#/components/responses/Unauthorized"}
  /v1/status:
    get:
      tags: [sources]
      operationId: status
      summary: Every source, its latest sample, check and gate verdict.
      responses:
        "200":
          description: One entry per configured source.
          content:
            application/json:
              schema:
                type: object
                required: [sources, summary]
                properties:
                  sources:
                    type: array
                    items: {$ref: "#/components/schemas/SourceStatus"}
                  summary: {$ref: "#/components/schemas/StatusSummary"}
                  cluster: {type: object}
        "400": {$ref: "#/components/responses/BadRequest"}
        "401": {$ref: "#/components/responses/Unauthorized"}
  /v1/sources/{name}:
    get:
      tags: [sources]
      operationId: source
      summary: One source, optionally its last samples.
      parameters:
        - $ref: "#/components/parameters/SourceName"
        - name: history
          in: query
          description: How many of the latest samples to include.
          schema: {type: integer, minimum: 0, maximum: 100000}
      responses:
        "200":
          description: The source.
          content:
            application/json:
              schema:
                allOf:
                  - $ref: "#/components/schemas/SourceStatus"
                  - type: object
                    properties:
                      history:
                        type: array
                        items: {$ref: "#/components/schemas/Sample"}
        "400": {$ref: "#/components/responses/BadRequest"}
        "401": {$ref: "#/components/responses/Unauthorized"}
        "404": {$ref: "#/components/responses/NotFound"}
  /v1/gate:
    get:
      tags: [gate]
      operationId: gate
      summary: "The gate, Patroni-style: 200 when every requested source passes, 503 when any fails."
      parameters:
        - $ref: "#/components/parameters/Sources"
      responses:
        "200":
          description: Every requested source passes.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/GateVerdict"}
        "503":
          description: At least one source fails (the verdict says why), or syncd failed to judge (the Error shape).
          content:
            application/json:
              schema:
                oneOf:
                  - $ref: "#/components/schemas/GateVerdict"
                  - $ref: "#/components/schemas/Error"
        "400": {$ref: "#/components/responses/BadRequest"}
        "401": {$ref: "#/components/responses/Unauthorized"}
        "404": {$ref: "#/components/responses/NotFound"}
        "500": {$ref: "#/components/responses/Internal"}
  /v1/gate/verdict:
    get:
      tags: [gate]
      operationId: gateVerdict
      summary: The gate, always 200 with the verdict in the body.
      parameters:
        - $ref: "#/components/parameters/Sources"
      responses:
        "200":
          description: The verdict; .status is pass or fail.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/GateVerdict"}
        "400": {$ref: "#/components/responses/BadRequest"}
        "401": {$ref: "#/components/responses/Unauthorized"}
        "404": {$ref: "#/components/responses/NotFound"}
        "500": {$ref: "#/components/responses/Internal"}
        "503": {$ref: "#/components/responses/Unavailable"}
  /v1/sources/{name}/pause:
    post:
      tags: [sources]
      operationId: pause
      summary: Pause replication (admin).
      parameters:
        - $ref: "#/components/parameters/SourceName"
      responses: &control
        "200":
          description: What was done.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/ControlOutcome"}
        "400": {$ref: "#/components/responses/BadRequest"}
        "401": {$ref: "#/components/responses/Unauthorized"}
        "403": {$ref: "#/components/responses/Forbidden"}
        "404": {$ref: "#/components/responses/NotFound"}
        "409": {$ref: "#/components/responses/Conflict"}
        "422": {$ref: "#/components/responses/Unsupported"}
        "500": {$ref: "#/components/responses/Internal"}
        "502": {$ref: "#/components/responses/Unreachable"}
        "503": {$ref: "#/components/responses/Unavailable"}
        "504": {$ref: "#/components/responses/Timeout"}
  /v1/sources/{name}/resume:
    post:
      tags: [sources]
      operationId: resume
      summary: Resume replication (admin).
      parameters:
        - $ref: "#/components/parameters/SourceName"
      responses: *control
  /v1/sources/{name}/drain:
    post:
      tags: [sources]
      operationId: drain
      summary: Wait until the DR side reached the primary's position at the call (admin).
      parameters:
        - $ref: "#/components/parameters/SourceName"
        - name: timeout
          in: query
          description: How long to wait (default 60s, at most 1h); 504 with the remaining distance when it passes.
          schema: {$ref: "#/components/schemas/Duration"}
      responses: *control
  /v1/sources/{name}/full-sync:
    post:
      tags: [sources]
      operationId: fullSync
      summary: Re-copy the DR side (admin; writes to the DR side only).
      parameters:
        - $ref: "#/components/parameters/SourceName"
      responses: *control
  /v1/sources/{name}/check:
    post:
      tags: [checks]
      operationId: startCheck
      summary: Start a consistency check in the background (admin).
      parameters:
        - $ref: "#/components/parameters/SourceName"
        - name: tables
          in: query
          description: Comma-separated scopes (tables, Redis databases as db3, topics, prefixes); all when absent.
          schema: {type: string}
        - name: full_diff
          in: query
          schema: {$ref: "#/components/schemas/BooleanText"}
        - name: max_diffs
          in: query
          schema: {type: integer, minimum: 0, maximum: 1000000}
        - name: rounds
          in: query
          schema: {type: integer, minimum: 1, maximum: 20}
      responses:
        "202":
          description: The job; follow it at the Location.
          headers:
            Location:
              schema: {type: string}
          content:
            application/json:
              schema: {$ref: "#/components/schemas/CheckJob"}
        "400": {$ref: "#/components/responses/BadRequest"}
        "401": {$ref: "#/components/responses/Unauthorized"}
        "502": {$ref: "#/components/responses/Unreachable"}
        "403": {$ref: "#/components/responses/Forbidden"}
        "404": {$ref: "#/components/responses/NotFound"}
        "409": {$ref: "#/components/responses/Conflict"}
        "422": {$ref: "#/components/responses/Unsupported"}
        "503": {$ref: "#/components/responses/Unavailable"}
    get:
      tags: [checks]
      operationId: latestCheck
      summary: The latest check's result (from the journal; survives restarts).
      parameters:
        - $ref: "#/components/parameters/SourceName"
      responses:
        "200":
          description: The latest check's journal detail (summary and result).
          content:
            application/json:
              schema:
                type: object
                properties:
                  summary: {$ref: "#/components/schemas/CheckSummary"}
                  result: {$ref: "#/components/schemas/CheckResult"}
        "400": {$ref: "#/components/responses/BadRequest"}
        "401": {$ref: "#/components/responses/Unauthorized"}
        "404": {$ref: "#/components/responses/NotFound"}
        "500": {$ref: "#/components/responses/Internal"}
  /v1/sources/{name}/reconcile:
    post:
      tags: [checks]
      operationId: reconcile
      summary: The plan that makes the DR side equal to the primary (dry run), or its execution (admin).
      parameters:
        - $ref: "#/components/parameters/SourceName"
        - name: apply
          in: query
          schema: {$ref: "#/components/schemas/BooleanText"}
        - name: delete
          in: query
          description: Object stores only; also delete DR-only objects.
          schema: {$ref: "#/components/schemas/BooleanText"}
      responses:
        "200":
          description: The plan, and with apply its outcome.
          content:
            application/json:
              schema:
                type: object
                required: [source, mode, plan]
                properties:
                  source: {type: string}
                  mode: {type: string}
                  plan: {type: object}
                  outcome: {type: object}
        "400": {$ref: "#/components/responses/BadRequest"}
        "401": {$ref: "#/components/responses/Unauthorized"}
        "403": {$ref: "#/components/responses/Forbidden"}
        "404": {$ref: "#/components/responses/NotFound"}
        "409": {$ref: "#/components/responses/Conflict"}
        "422": {$ref: "#/components/responses/Unsupported"}
        "500": {$ref: "#/components/responses/Internal"}
        "502": {$ref: "#/components/responses/Unreachable"}
        "503": {$ref: "#/components/responses/Unavailable"}
        "504": {$ref: "#/components/responses/Timeout"}
  /v1/checks/{id}:
    get:
      tags: [checks]
      operationId: checkJob
      summary: A check job; wait holds the answer until it ends or that time passes.
      parameters:
        - $ref: "#/components/parameters/JobID"
        - $ref: "#/components/parameters/Wait"
      responses:
        "200":
          description: The job (its result once done).
          content:
            application/json:
              schema: {$ref: "#/components/schemas/CheckJob"}
        "400": {$ref: "#/components/responses/BadRequest"}
        "401": {$ref: "#/components/responses/Unauthorized"}
        "503": {$ref: "#/components/responses/Unavailable"}
        "502": {$ref: "#/components/responses/Unreachable"}
        "404": {$ref: "#/components/responses/NotFound"}
    delete:
      tags: [checks]
      operationId: cancelCheck
      summary: Cancel a running check (admin).
      parameters:
        - $ref: "#/components/parameters/JobID"
      responses:
        "200":
          description: The job as it ended.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/CheckJob"}
        "400": {$ref: "#/components/responses/BadRequest"}
        "401": {$ref: "#/components/responses/Unauthorized"}
        "503": {$ref: "#/components/responses/Unavailable"}
        "502": {$ref: "#/components/responses/Unreachable"}
        "403": {$ref: "#/components/responses/Forbidden"}
        "404": {$ref: "#/components/responses/NotFound"}
        "409": {$ref: "#/components/responses/Conflict"}
        "500": {$ref: "#/components/responses/Internal"}
  /v1/cutovers:
    post:
      tags: [cutovers]
      operationId: startCutover
      summary: Drain, verify and gate every source (or a plan's) in one journaled run (admin).
      requestBody:
        required: false
        content:
          application/json:
            schema: {$ref: "#/components/schemas/CutoverRequest"}
      responses:
        "202":
          description: The run; follow it at the Location.
          headers:
            Location:
              schema: {type: string}
          content:
            application/json:
              schema: {$ref: "#/components/schemas/CutoverRun"}
        "400": {$ref: "#/components/responses/BadRequest"}
        "401": {$ref: "#/components/responses/Unauthorized"}
        "502": {$ref: "#/components/responses/Unreachable"}
        "403": {$ref: "#/components/responses/Forbidden"}
        "404": {$ref: "#/components/responses/NotFound"}
        "409": {$ref: "#/components/responses/Conflict"}
        "413": {$ref: "#/components/responses/BadRequest"}
        "422": {$ref: "#/components/responses/Unsupported"}
        "500": {$ref: "#/components/responses/Internal"}
        "503": {$ref: "#/components/responses/Unavailable"}
    get:
      tags: [cutovers]
      operationId: cutovers
      summary: Recent runs, newest first.
      responses:
        "200":
          description: The runs syncd holds in memory.
          content:
            application/json:
              schema:
                type: object
                required: [runs]
                properties:
                  runs:
                    type: array
                    items: {$ref: "#/components/schemas/CutoverRun"}
        "400": {$ref: "#/components/responses/BadRequest"}
        "401": {$ref: "#/components/responses/Unauthorized"}
        "503": {$ref: "#/components/responses/Unavailable"}
        "502": {$ref: "#/components/responses/Unreachable"}
  /v1/cutovers/{id}:
    get:
      tags: [cutovers]
      operationId: cutover
      summary: A run and its report; wait holds the answer until it ends or that time passes.
      parameters:
        - $ref: "#/components/parameters/JobID"
        - $ref: "#/components/parameters/Wait"
      responses:
        "200":
          description: The run.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/CutoverRun"}
        "400": {$ref: "#/components/responses/BadRequest"}
        "401": {$ref: "#/components/responses/Unauthorized"}
        "503": {$ref: "#/components/responses/Unavailable"}
        "502": {$ref: "#/components/responses/Unreachable"}
        "404": {$ref: "#/components/responses/NotFound"}
    delete:
      tags: [cutovers]
      operationId: cancelCutover
      summary: Cancel a running run (admin).
      parameters:
        - $ref: "#/components/parameters/JobID"
      responses:
        "200":
          description: The run as it ended.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/CutoverRun"}
        "400": {$ref: "#/components/responses/BadRequest"}
        "401": {$ref: "#/components/responses/Unauthorized"}
        "503": {$ref: "#/components/responses/Unavailable"}
        "502": {$ref: "#/components/responses/Unreachable"}
        "403": {$ref: "#/components/responses/Forbidden"}
        "404": {$ref: "#/components/responses/NotFound"}
        "409": {$ref: "#/components/responses/Conflict"}
        "500": {$ref: "#/components/responses/Internal"}
  /v1/cutovers/{id}/digest:
    get:
      tags: [cutovers]
      operationId: cutoverDigest
      summary: The report digest the journal holds for a finished run.
      parameters:
        - $ref: "#/components/parameters/JobID"
      responses:
        "200":
          description: The RFC 8785 SHA-256 of the report.
          content:
            application/json:
              schema:
                type: object
                required: [id, report_sha256]
                properties:
                  id: {type: string}
                  report_sha256: {type: string, pattern: "^[0-9a-f]{64}$"}
        "400": {$ref: "#/components/responses/BadRequest"}
        "401": {$ref: "#/components/responses/Unauthorized"}
        "404": {$ref: "#/components/responses/NotFound"}
        "500": {$ref: "#/components/responses/Internal"}
  /v1/journal:
    get:
      tags: [journal]
      operationId: journal
      summary: Journal entries, newest first.
      parameters:
        - name: limit
          in: query
          schema: {type: integer, minimum: 1, maximum: 10000}
        - name: source
          in: query
          schema: {type: string}
        - name: kind
          in: query
          schema:
            type: string
            enum: [gate, check, reconcile, control, cutover, lag, service]
      responses:
        "200":
          description: The entries.
          content:
            application/json:
              schema:
                type: object
                required: [entries]
                properties:
                  entries:
                    type: array
                    items: {$ref: "#/components/schemas/JournalEntry"}
        "400": {$ref: "#/components/responses/BadRequest"}
        "401": {$ref: "#/components/responses/Unauthorized"}
        "404": {$ref: "#/components/responses/NotFound"}
        "500": {$ref: "#/components/responses/Internal"}
  /v1/journal/verify:
    get:
      tags: [journal]
      operationId: verifyJournal
      summary: The hash chain's verification.
      responses:
        "200":
          description: ok, or the first bad entry and what is wrong with it.
          content:
            application/json:
              schema:
                type: object
                required: [ok, entries]
                properties:
                  ok: {type: boolean}
                  entries: {type: integer}
                  head_entry: {type: integer}
                  head_hash: {type: string}
                  first_bad_entry: {type: integer}
                  problem: {type: string}
        "400": {$ref: "#/components/responses/BadRequest"}
        "401": {$ref: "#/components/responses/Unauthorized"}
        "500": {$ref: "#/components/responses/Internal"}
components:
  securitySchemes:
    bearer:
      type: http
      scheme: bearer
      description: The read token (GET) or the admin token (everything).
  parameters:
    SourceName:
      name: name
      in: path
      required: true
      description: A configured source's name.
      schema: {type: string}
    JobID:
      name: id
      in: path
      required: true
      schema: {type: string}
    Sources:
      name: sources
      in: query
      description: Comma-separated source names; every source when absent.
      schema: {type: string}
    Wait:
      name: wait
      in: query
      description: Hold the answer until the job ends or this long passes (at most 60s).
      schema: {$ref: "#/components/schemas/Duration"}
  responses:
    BadRequest:
      description: A malformed or unknown query parameter or value, or a body that is not the expected request.
      content:
        application/json:
          schema: {$ref: "#/components/schemas/Error"}
    Unauthorized:
      description: No bearer token, or one syncd does not know.
      headers:
        WWW-Authenticate:
          schema: {type: string}
      content:
        application/json:
          schema: {$ref: "#/components/schemas/Error"}
    Forbidden:
      description: The read token on a route that needs the admin token.
      content:
        application/json:
          schema: {$ref: "#/components/schemas/Error"}
    NotFound:
      description: No such source, job, run or route.
      content:
        application/json:
          schema: {$ref: "#/components/schemas/Error"}
    Conflict:
      description: The source's state forbids it, or another operation holds the source.
      content:
        application/json:
          schema: {$ref: "#/components/schemas/Error"}
    Unsupported:
      description: The source's topology cannot do this; remedy says what to do instead.
      content:
        application/json:
          schema: {$ref: "#/components/schemas/Error"}
    Internal:
      description: The operation failed inside syncd or a data store (the message says which), e.g. the journal could not be written.
      content:
        application/json:
          schema: {$ref: "#/components/schemas/Error"}
    Unreachable:
      description: A data store did not answer, or (on a follower) the leader it forwards to did not.
      content:
        application/json:
          schema: {$ref: "#/components/schemas/Error"}
    Unavailable:
      description: syncd is shutting down, the shared journal is unreachable, or (on a follower) no instance holds the leader lease.
      content:
        application/json:
          schema: {$ref: "#/components/schemas/Error"}
    Timeout:
      description: The operation did not finish in time (a drain, with the remaining distance).
      content:
        application/json:
          schema: {$ref: "#/components/schemas/Error"}
  schemas:
    Error:
      type: object
      required: [error, status, code]
      properties:
        error: {type: string}
        status: {type: integer}
        code: {type: string}
        remedy: {type: string}
    Duration:
      type: string
      description: A duration like 500ms, 30s, 5m or 1h.
      pattern: "^[0-9]+(\\.[0-9]+)?(ms|s|m|h)?$"
    BooleanText:
      type: string
      enum: ["true", "false", "1", "0", "yes", "no"]
    State:
      type: string
      enum: [in_sync, syncing, lagging, paused, broken, unreachable]
    Unit:
      type: string
      enum: [bytes, records, keys, objects]
    Timestamp:
      type: string
      format: date-time
    Sample:
      type: object
      required: [time, state, unit, errors]
      properties:
        time: {$ref: "#/components/schemas/Timestamp"}
        state: {$ref: "#/components/schemas/State"}
        unit: {$ref: "#/components/schemas/Unit"}
        topology: {type: string}
        lag_seconds: {type: number}
        lag_volume: {type: integer}
        position: {type: integer}
        throughput: {type: number}
        errors:
          type: array
          items: {type: string}
        details:
          type: object
          additionalProperties: {type: string}
        topology_stamp:
          type: string
          description: Which servers hold roles that can move (the master a Sentinel names, with its config epoch).
    StatusSummary:
      type: object
      description: The status page's summary line.
      required: [sources, in_sync, lag_unknown, checks_too_old]
      properties:
        sources: {type: integer}
        in_sync: {type: integer, description: Sources whose latest sample is in_sync.}
        worst_lag_seconds: {type: number}
        worst_lag_source: {type: string}
        lag_unknown:
          type: array
          items: {type: string}
        checks_too_old:
          type: array
          description: Sources with no check, or whose latest check is older than their check_max_age.
          items: {type: string}
    Policy:
      type: object
      required: [lag_budget_seconds, check_max_age_seconds, ratio_threshold]
      properties:
        lag_budget_seconds: {type: number}
        check_max_age_seconds: {type: number}
        ratio_threshold: {type: number}
        sample_max_age_seconds: {type: number}
    SourceVerdict:
      type: object
      required: [source, status, reasons]
      properties:
        source: {type: string}
        status: {type: string, enum: [pass, fail]}
        state: {$ref: "#/components/schemas/State"}
        lag_seconds: {type: number}
        lag_budget_seconds: {type: number}
        lag_volume: {type: integer}
        unit: {$ref: "#/components/schemas/Unit"}
        ratio: {type: number}
        count_ratio: {type: number}
        ratio_threshold: {type: number}
        check_age_seconds: {type: number}
        sample_age_seconds: {type: number}
        reasons:
          type: array
          items: {type: string}
    GateVerdict:
      type: object
      required: [status, evaluated_at, sources]
      properties:
        status: {type: string, enum: [pass, fail]}
        evaluated_at: {$ref: "#/components/schemas/Timestamp"}
        sources:
          type: array
          items: {$ref: "#/components/schemas/SourceVerdict"}
    CheckSummary:
      type: object
      required: [finished_at]
      properties:
        finished_at: {$ref: "#/components/schemas/Timestamp"}
        ratio: {type: number}
        count_ratio: {type: number}
        error: {type: string}
        partial: {type: boolean}
        complete: {type: boolean}
        blockers:
          type: array
          items: {type: string}
        topology_stamp: {type: string}
        scopes:
          type: array
          items:
            type: object
            required: [scope]
            properties:
              scope: {type: string}
              finished_at: {$ref: "#/components/schemas/Timestamp"}
              ratio: {type: number}
              count_ratio: {type: number}
    SourceStatus:
      type: object
      required: [name, kind, poll_interval_seconds, policy, capabilities, verdict]
      properties:
        name: {type: string}
        kind: {type: string}
        poll_interval_seconds: {type: number}
        poll_timeout_seconds: {type: number}
        policy: {$ref: "#/components/schemas/Policy"}
        capabilities:
          type: array
          items: {type: string, enum: [pause, resume, full_sync, drain, check, reconcile]}
        latest: {$ref: "#/components/schemas/Sample"}
        latest_check: {$ref: "#/components/schemas/CheckSummary"}
        running_operation: {type: string}
        verdict: {$ref: "#/components/schemas/SourceVerdict"}
    ControlOutcome:
      type: object
      required: [source, action, status, message, duration_seconds]
      properties:
        source: {type: string}
        action: {type: string, enum: [pause, resume, drain, full_sync]}
        status: {type: string}
        message: {type: string}
        state: {$ref: "#/components/schemas/State"}
        duration_seconds: {type: number}
        drain:
          type: object
          properties:
            target: {type: string}
            reached: {type: string}
            waited_seconds: {type: number}
    CheckResult:
      type: object
      required: [source, status, ratio, missing, extra, changed, started_at, finished_at]
      properties:
        source: {type: string}
        status: {type: string}
        ratio: {type: number}
        count_ratio: {type: number}
        threshold: {type: number}
        primary_rows: {type: integer}
        dr_rows: {type: integer}
        missing: {type: integer}
        extra: {type: integer}
        changed: {type: integer}
        rounds: {type: integer}
        stopped_early: {type: boolean}
        partial: {type: boolean}
        diffs: {type: array}
        diffs_truncated: {type: boolean}
        tables: {type: array}
        notes:
          type: array
          items: {type: string}
        blockers:
          type: array
          items: {type: string}
        topology_stamp: {type: string}
        started_at: {$ref: "#/components/schemas/Timestamp"}
        finished_at: {$ref: "#/components/schemas/Timestamp"}
    CheckJob:
      type: object
      required: [id, source, actor, status, started_at, progress]
      properties:
        id: {type: string}
        source: {type: string}
        actor: {type: string}
        status: {type: string, enum: [running, done, error, cancelled]}
        started_at: {$ref: "#/components/schemas/Timestamp"}
        progress: {type: object}
        result: {$ref: "#/components/schemas/CheckResult"}
        error: {type: string}
    CutoverRequest:
      type: object
      description: Every member is optional; null is the same as absent.
      properties:
        sources:
          type: [array, "null"]
          items: {type: string}
        plan:
          type: [object, "null"]
          properties:
            stages:
              type: array
              items: {type: object}
        drill: {type: [boolean, "null"]}
        timeout_seconds: {type: [number, "null"]}
    CutoverRun:
      type: object
      required: [id, drill, actor, status, started_at, sources, plan]
      properties:
        id: {type: string}
        drill: {type: boolean}
        actor: {type: string}
        status: {type: string, enum: [running, pass, degraded, fail, cancelled, error, skipped]}
        config_digest: {type: string}
        started_at: {$ref: "#/components/schemas/Timestamp"}
        finished_at: {$ref: "#/components/schemas/Timestamp"}
        seconds_to_verdict: {type: number}
        report_sha256: {type: string}
        reason: {type: string}
        plan: {type: object}
        sources:
          type: array
          items:
            type: object
            required: [source, status]
            properties:
              source: {type: string}
              status: {type: string, enum: [running, pass, degraded, fail, cancelled, error, skipped]}
    JournalEntry:
      type: object
      required: [id, time, kind, actor, action, outcome]
      properties:
        id: {type: integer}
        time: {$ref: "#/components/schemas/Timestamp"}
        kind: {type: string}
        source: {type: string}
        actor: {type: string}
        action: {type: string}
        outcome: {type: string}
        detail: {}
"""#
}
