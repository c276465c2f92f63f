-- Teams: named groups of users that administrators manage; each member acts in
-- every cluster with the team's group as well (kubegate:team:<name>).
CREATE TABLE teams (
	name        TEXT PRIMARY KEY,
	description TEXT NOT NULL DEFAULT '',
	created_at  BIGINT NOT NULL,
	updated_at  BIGINT NOT NULL
);

-- A user's memberships go with the user, and a team's with the team.
CREATE TABLE team_members (
	team    TEXT NOT NULL REFERENCES teams(name) ON DELETE CASCADE,
	user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	PRIMARY KEY (team, user_id)
);
CREATE INDEX team_members_user ON team_members (user_id);
