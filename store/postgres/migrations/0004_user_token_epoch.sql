-- Tokens carry the epoch of their user; a password change, reset or disable
-- raises it, refusing every token issued before.
ALTER TABLE users ADD COLUMN token_epoch BIGINT NOT NULL DEFAULT 0;
