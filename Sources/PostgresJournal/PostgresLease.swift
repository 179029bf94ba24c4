import Foundation
import PostgresClient
import SyncCore

/// The leader lease and the instances' heartbeats, in the shared journal's database (tables of
/// schema version 2). One statement takes or renews the lease, judged by the database's clock.
/// Its own connection: a renewal never waits behind a long journal read.
public final class PostgresLease: LeaseStore, Sendable {
    private let link: JournalLink

    public init(endpoint: EndpointConfig, sslmode: String?) {
        var endpoint = endpoint
        endpoint.sslmode = sslmode
        link = JournalLink(parameters: PGConnectionParameters(endpoint: endpoint, applicationName: "syncd-lease"))
    }

    public func acquire(_ instance: InstanceIdentity, ttlSeconds: Double) async throws -> LeaseState {
        try await link.exclusive { connection in
            // Taken when free or lapsed (a new term: the token grows), renewed by its holder.
            let taken = try await connection.query("""
                INSERT INTO syncd_lease AS lease (name, holder, holder_url, token, expires_at)
                VALUES ('leader', $1, $2, 1, now() + $3::double precision * interval '1 second')
                ON CONFLICT (name) DO UPDATE SET
                    holder = EXCLUDED.holder, holder_url = EXCLUDED.holder_url, expires_at = EXCLUDED.expires_at,
                    token = CASE WHEN lease.holder = EXCLUDED.holder AND lease.expires_at > now() THEN lease.token ELSE lease.token + 1 END
                WHERE lease.holder = EXCLUDED.holder OR lease.expires_at <= now()
                RETURNING token, extract(epoch FROM expires_at) AS expires
                """, [instance.id, instance.url, String(ttlSeconds)])
            if let token = taken.value(0, "token").flatMap({ Int64($0) }) {
                return LeaseState(holder: instance.id, holderURL: instance.url, token: token,
                                  expiresAt: taken.value(0, "expires").flatMap { Double($0) }.map { Date(timeIntervalSince1970: $0) }, isMine: true)
            }
            let held = try await connection.query("SELECT holder, holder_url, token, extract(epoch FROM expires_at) AS expires FROM syncd_lease WHERE name = 'leader'")
            return LeaseState(holder: held.value(0, "holder"), holderURL: held.value(0, "holder_url"),
                              token: held.value(0, "token").flatMap { Int64($0) } ?? 0,
                              expiresAt: held.value(0, "expires").flatMap { Double($0) }.map { Date(timeIntervalSince1970: $0) }, isMine: false)
        }
    }

    public func release(_ instance: InstanceIdentity) async {
        _ = try? await link.exclusive { connection in
            try await connection.query("UPDATE syncd_lease SET expires_at = now() WHERE name = 'leader' AND holder = $1", [instance.id])
        }
    }

    public func heartbeat(_ instance: InstanceIdentity, role: String) async throws {
        try await link.exclusive { connection in
            try await connection.query("""
                INSERT INTO syncd_instances (id, site, url, role, last_heartbeat) VALUES ($1, $2, $3, $4, now())
                ON CONFLICT (id) DO UPDATE SET site = EXCLUDED.site, url = EXCLUDED.url, role = EXCLUDED.role, last_heartbeat = now()
                """, [instance.id, instance.site, instance.url, role])
        }
    }

    public func instances() async throws -> [InstanceRecord] {
        let rows = try await link.exclusive { connection in
            try await connection.query("""
                SELECT id, site, url, role, extract(epoch FROM last_heartbeat) AS heartbeat,
                       extract(epoch FROM now() - last_heartbeat) AS age
                FROM syncd_instances ORDER BY site, id
                """)
        }
        return rows.rows.compactMap { row in
            guard let id = row[0], let heartbeat = row[4].flatMap({ Double($0) }) else { return nil }
            return InstanceRecord(id: id, site: row[1] ?? "", url: row[2], role: row[3] ?? "follower",
                                  lastHeartbeat: Date(timeIntervalSince1970: heartbeat), heartbeatAgeSeconds: row[5].flatMap { Double($0) } ?? 0)
        }
    }
}
