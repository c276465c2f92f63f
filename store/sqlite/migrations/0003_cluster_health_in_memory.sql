-- Cluster health is each replica's runtime state, kept in memory: writing it made
-- every health flap a change notification to every replica.
ALTER TABLE clusters DROP COLUMN health_status;
ALTER TABLE clusters DROP COLUMN health_version;
ALTER TABLE clusters DROP COLUMN health_message;
ALTER TABLE clusters DROP COLUMN health_checked_at;
