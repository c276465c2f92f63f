-- Personal access tokens (DCE 5.0) are access keys of their own kind: one table,
-- one revocation path, one last-use record; limits count each kind apart.
ALTER TABLE access_keys ADD COLUMN kind TEXT NOT NULL DEFAULT 'key';
ALTER TABLE access_keys ADD COLUMN name TEXT NOT NULL DEFAULT '';
