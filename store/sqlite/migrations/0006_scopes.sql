-- Credential scopes (JSON; '' for none) and each audited request's scope decision.
ALTER TABLE access_keys ADD COLUMN scope TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN scope TEXT NOT NULL DEFAULT '';
