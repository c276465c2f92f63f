CREATE TABLE users (
	id            TEXT PRIMARY KEY,
	name          TEXT NOT NULL UNIQUE,
	email         TEXT NOT NULL DEFAULT '',
	first_name    TEXT NOT NULL DEFAULT '',
	last_name     TEXT NOT NULL DEFAULT '',
	description   TEXT NOT NULL DEFAULT '',
	password_hash TEXT NOT NULL DEFAULT '',
	enabled       BOOLEAN NOT NULL,
	admin         BOOLEAN NOT NULL,
	source        TEXT NOT NULL DEFAULT '',
	created_at    BIGINT NOT NULL,
	updated_at    BIGINT NOT NULL,
	last_login_at BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE access_keys (
	id                   TEXT PRIMARY KEY,
	access_key           TEXT NOT NULL UNIQUE,
	secret_hash          BYTEA NOT NULL,
	user_id              TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	description          TEXT NOT NULL DEFAULT '',
	status               TEXT NOT NULL CHECK (status IN ('Active', 'Inactive')),
	created_at           BIGINT NOT NULL,
	expires_at           BIGINT NOT NULL DEFAULT 0,
	last_used_at         BIGINT NOT NULL DEFAULT 0,
	last_used_ip         TEXT NOT NULL DEFAULT '',
	last_used_user_agent TEXT NOT NULL DEFAULT ''
);
CREATE INDEX access_keys_user ON access_keys (user_id);

CREATE TABLE clusters (
	name                     TEXT PRIMARY KEY,
	server                   TEXT NOT NULL,
	ca_data                  BYTEA,
	tls_server_name          TEXT NOT NULL DEFAULT '',
	insecure_skip_tls_verify BOOLEAN NOT NULL DEFAULT FALSE,
	credentials              BYTEA,
	description              TEXT NOT NULL DEFAULT '',
	labels                   TEXT NOT NULL DEFAULT '',
	created_at               BIGINT NOT NULL,
	updated_at               BIGINT NOT NULL,
	health_status            TEXT NOT NULL DEFAULT '',
	health_version           TEXT NOT NULL DEFAULT '',
	health_message           TEXT NOT NULL DEFAULT '',
	health_checked_at        BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE signing_keys (
	kid         TEXT PRIMARY KEY,
	algorithm   TEXT NOT NULL,
	private_key BYTEA NOT NULL,
	created_at  BIGINT NOT NULL,
	retired_at  BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE audit_events (
	id          BIGSERIAL PRIMARY KEY,
	time        BIGINT NOT NULL,
	request_id  TEXT NOT NULL DEFAULT '',
	user_name   TEXT NOT NULL DEFAULT '',
	access_key  TEXT NOT NULL DEFAULT '',
	cluster     TEXT NOT NULL DEFAULT '',
	verb        TEXT NOT NULL DEFAULT '',
	path        TEXT NOT NULL DEFAULT '',
	status_code INTEGER NOT NULL,
	latency_us  BIGINT NOT NULL,
	source_ip   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_time ON audit_events (time);

CREATE TABLE changes (
	id   BIGSERIAL PRIMARY KEY,
	at   BIGINT NOT NULL,
	kind TEXT NOT NULL,
	key  TEXT NOT NULL
);
CREATE INDEX changes_at ON changes (at);
