-- The audit page lists one user's or one access key's calls, newest first. A
-- user's own calls are found by their ID: a name can be reused after a deletion.
ALTER TABLE audit_events ADD COLUMN user_id TEXT NOT NULL DEFAULT '';
CREATE INDEX audit_events_user_time ON audit_events (user_id, time);
CREATE INDEX audit_events_user_name_time ON audit_events (user_name, time);
CREATE INDEX audit_events_key_time ON audit_events (access_key, time);
