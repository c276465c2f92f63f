-- What a revoked token came from (its access key, or a user's console sessions)
-- and when it was issued, so that a family that logged out too many tokens is
-- revoked as one row: every token of it issued before issued_at.
ALTER TABLE revoked_tokens ADD COLUMN family TEXT NOT NULL DEFAULT '';
ALTER TABLE revoked_tokens ADD COLUMN issued_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX revoked_tokens_family ON revoked_tokens (family);
