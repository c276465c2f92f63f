package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/kubegate/kubegate"
)

// ---- teams ----

const teamColumns = `name, description, created_at, updated_at`

func scanTeam(r scanner) (kubegate.Team, error) {
	var t kubegate.Team
	var created, updated int64
	if err := r.Scan(&t.Name, &t.Description, &created, &updated); err != nil {
		return t, err
	}
	t.CreatedAt, t.UpdatedAt = fromDB(created), fromDB(updated)
	return t, nil
}

// members reads the members of the team called name (of every team for ""),
// by team.
func (s *Store) members(ctx context.Context, q queryer, name string) (map[string][]string, error) {
	query, args := `SELECT team, user_id FROM team_members ORDER BY team, user_id`, []any{}
	if name != "" {
		query, args = `SELECT team, user_id FROM team_members WHERE team = ? ORDER BY user_id`, []any{name}
	}
	rows, err := q.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var team, user string
		if err := rows.Scan(&team, &user); err != nil {
			return nil, err
		}
		out[team] = append(out[team], user)
	}
	return out, rows.Err()
}

// queryer is what reads run on: the database or a transaction.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// putMembers replaces the members of team t in tx; a member that is not a user
// is an EInvalid naming it.
func (s *Store) putMembers(ctx context.Context, tx *sql.Tx, t kubegate.Team) error {
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM team_members WHERE team = ?`), t.Name); err != nil {
		return err
	}
	for _, id := range t.Members {
		var n int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM users WHERE id = ?`), id).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return kubegate.Errorf(kubegate.EInvalid, "member %q is not a user", id)
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO team_members (team, user_id) VALUES (?, ?)`), t.Name, id); err != nil {
			return err
		}
	}
	return nil
}

// CreateTeam implements kubegate.Store.
func (s *Store) CreateTeam(ctx context.Context, t kubegate.Team) error {
	if err := t.Validate(); err != nil {
		return err
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO teams (`+teamColumns+`) VALUES (?,?,?,?)`),
			t.Name, t.Description, toDB(t.CreatedAt), toDB(t.UpdatedAt)); err != nil {
			return s.classify(err, fmt.Sprintf("team %q", t.Name))
		}
		if err := s.putMembers(ctx, tx, t); err != nil {
			return err
		}
		return s.changed(ctx, tx, kubegate.ChangeTeam, t.Name)
	})
}

// GetTeam implements kubegate.Store.
func (s *Store) GetTeam(ctx context.Context, name string) (kubegate.Team, error) {
	return s.getTeam(ctx, s.db, name, "")
}

func (s *Store) getTeam(ctx context.Context, q interface {
	queryer
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}, name, lock string) (kubegate.Team, error) {
	t, err := scanTeam(q.QueryRowContext(ctx, s.q(`SELECT `+teamColumns+` FROM teams WHERE name = ?`+lock), name))
	if err != nil {
		return t, s.classify(err, fmt.Sprintf("team %q", name))
	}
	m, err := s.members(ctx, q, name)
	if err != nil {
		return t, err
	}
	t.Members = m[name]
	return t, nil
}

// ListTeams implements kubegate.Store.
func (s *Store) ListTeams(ctx context.Context) ([]kubegate.Team, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+teamColumns+` FROM teams ORDER BY name`)
	if err != nil {
		return nil, err
	}
	teams, err := collect(rows, scanTeam)
	if err != nil {
		return nil, err
	}
	m, err := s.members(ctx, s.db, "")
	if err != nil {
		return nil, err
	}
	for i := range teams {
		teams[i].Members = m[teams[i].Name]
	}
	return teams, nil
}

// UpdateTeam implements kubegate.Store.
func (s *Store) UpdateTeam(ctx context.Context, name string, update func(kubegate.Team) (kubegate.Team, error)) (kubegate.Team, error) {
	var out kubegate.Team
	err := s.tx(ctx, func(tx *sql.Tx) error {
		old, err := s.getTeam(ctx, tx, name, s.forUpdate())
		if err != nil {
			return err
		}
		t, err := update(old)
		if err != nil {
			return err
		}
		t.Name, t.CreatedAt = old.Name, old.CreatedAt
		if err := t.Validate(); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE teams SET description=?, updated_at=? WHERE name = ?`), t.Description, toDB(t.UpdatedAt), name); err != nil {
			return err
		}
		if err := s.putMembers(ctx, tx, t); err != nil {
			return err
		}
		out = t
		return s.changed(ctx, tx, kubegate.ChangeTeam, name)
	})
	return out, err
}

// DeleteTeam implements kubegate.Store.
func (s *Store) DeleteTeam(ctx context.Context, name string) error {
	return s.deleteOne(ctx, `DELETE FROM teams WHERE name = ?`, name, kubegate.ChangeTeam, fmt.Sprintf("team %q", name),
		func(tx *sql.Tx) error { return s.announceGrants(ctx, tx, "subject_team", name) })
}
