-- Grants: a ClusterRole for a user or a team on some or all clusters, in some or
-- all namespaces or cluster-wide; the gateway keeps the bindings they imply in
-- each cluster. A grant goes with its subject. Clusters and namespaces are JSON
-- arrays of names ("*": all).
CREATE TABLE grants (
	id           TEXT PRIMARY KEY,
	subject_user TEXT REFERENCES users(id) ON DELETE CASCADE,
	subject_team TEXT REFERENCES teams(name) ON DELETE CASCADE,
	role         TEXT NOT NULL,
	clusters     TEXT NOT NULL,
	namespaces   TEXT NOT NULL,
	cluster_wide BOOLEAN NOT NULL DEFAULT FALSE,
	created_by   TEXT NOT NULL DEFAULT '',
	created_at   INTEGER NOT NULL,
	CHECK ((subject_user IS NULL) <> (subject_team IS NULL))
);
CREATE INDEX grants_user ON grants (subject_user);
CREATE INDEX grants_team ON grants (subject_team);

-- What the gateway last achieved for a grant in each cluster.
CREATE TABLE grant_status (
	grant_id   TEXT NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
	cluster    TEXT NOT NULL,
	state      TEXT NOT NULL,
	message    TEXT NOT NULL DEFAULT '',
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (grant_id, cluster)
);
