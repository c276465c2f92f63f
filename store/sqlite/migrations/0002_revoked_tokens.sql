CREATE TABLE revoked_tokens (
	id         TEXT PRIMARY KEY,
	expires_at INTEGER NOT NULL
);
CREATE INDEX revoked_tokens_expires ON revoked_tokens (expires_at);
