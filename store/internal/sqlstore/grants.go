package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/kubegate/kubegate"
)

// ---- grants ----

const grantColumns = `id, subject_user, subject_team, role, clusters, namespaces, cluster_wide, created_by, created_at`

func scanGrant(r scanner) (kubegate.Grant, error) {
	var g kubegate.Grant
	var user, team sql.NullString
	var clusters, namespaces string
	var created int64
	if err := r.Scan(&g.ID, &user, &team, &g.Role, &clusters, &namespaces, &g.ClusterWide, &g.CreatedBy, &created); err != nil {
		return g, err
	}
	g.Subject = kubegate.GrantSubject{Kind: kubegate.SubjectUser, Name: user.String}
	if team.Valid {
		g.Subject = kubegate.GrantSubject{Kind: kubegate.SubjectTeam, Name: team.String}
	}
	g.CreatedAt = fromDB(created)
	if err := json.Unmarshal([]byte(clusters), &g.Clusters); err != nil {
		return g, fmt.Errorf("grant %s: clusters: %w", g.ID, err)
	}
	if err := json.Unmarshal([]byte(namespaces), &g.Namespaces); err != nil {
		return g, fmt.Errorf("grant %s: namespaces: %w", g.ID, err)
	}
	if len(g.Namespaces) == 0 {
		g.Namespaces = nil
	}
	return g, nil
}

// CreateGrant implements kubegate.Store.
func (s *Store) CreateGrant(ctx context.Context, g kubegate.Grant) error {
	if err := g.Validate(); err != nil {
		return err
	}
	var user, team any
	// The subject's row is share-locked until the grant is in: a deletion of the
	// subject running meanwhile waits, then takes (and announces) the grant too.
	subject := `SELECT id FROM users WHERE id = ?`
	if g.Subject.Kind == kubegate.SubjectTeam {
		team, subject = g.Subject.Name, `SELECT name FROM teams WHERE name = ?`
	} else {
		user = g.Subject.Name
	}
	if s.d.Postgres {
		subject += " FOR SHARE"
	}
	clusters, _ := json.Marshal(g.Clusters)
	namespaces, _ := json.Marshal(nonNil(g.Namespaces))
	return s.tx(ctx, func(tx *sql.Tx) error {
		var found string
		if err := tx.QueryRowContext(ctx, s.q(subject), g.Subject.Name).Scan(&found); errors.Is(err, sql.ErrNoRows) {
			return kubegate.Errorf(kubegate.EInvalid, "subject: no %s %q", g.Subject.Kind, g.Subject.Name)
		} else if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO grants (`+grantColumns+`) VALUES (?,?,?,?,?,?,?,?,?)`),
			g.ID, user, team, g.Role, string(clusters), string(namespaces), g.ClusterWide, g.CreatedBy, toDB(g.CreatedAt)); err != nil {
			return s.classify(err, fmt.Sprintf("grant %q", g.ID))
		}
		return s.changed(ctx, tx, kubegate.ChangeGrant, g.ID)
	})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// GetGrant implements kubegate.Store.
func (s *Store) GetGrant(ctx context.Context, id string) (kubegate.Grant, error) {
	g, err := scanGrant(s.db.QueryRowContext(ctx, s.q(`SELECT `+grantColumns+` FROM grants WHERE id = ?`), id))
	if err != nil {
		return g, s.classify(err, fmt.Sprintf("grant %q", id))
	}
	st, err := s.grantStatus(ctx, id)
	g.Status = st[id]
	return g, err
}

// ListGrants implements kubegate.Store.
func (s *Store) ListGrants(ctx context.Context) ([]kubegate.Grant, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+grantColumns+` FROM grants ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	grants, err := collect(rows, scanGrant)
	if err != nil {
		return nil, err
	}
	st, err := s.grantStatus(ctx, "")
	for i := range grants {
		grants[i].Status = st[grants[i].ID]
	}
	return grants, err
}

// grantStatus reads the status of the grant id (of every grant for ""), by
// grant, each by cluster.
func (s *Store) grantStatus(ctx context.Context, id string) (map[string][]kubegate.GrantStatus, error) {
	query, args := `SELECT grant_id, cluster, state, message, updated_at FROM grant_status ORDER BY grant_id, cluster`, []any{}
	if id != "" {
		query, args = `SELECT grant_id, cluster, state, message, updated_at FROM grant_status WHERE grant_id = ? ORDER BY cluster`, []any{id}
	}
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]kubegate.GrantStatus{}
	for rows.Next() {
		var g string
		var st kubegate.GrantStatus
		var at int64
		if err := rows.Scan(&g, &st.Cluster, &st.State, &st.Message, &at); err != nil {
			return nil, err
		}
		st.UpdatedAt = fromDB(at)
		out[g] = append(out[g], st)
	}
	return out, rows.Err()
}

// DeleteGrant implements kubegate.Store.
func (s *Store) DeleteGrant(ctx context.Context, id string) error {
	return s.deleteOne(ctx, `DELETE FROM grants WHERE id = ?`, id, kubegate.ChangeGrant, fmt.Sprintf("grant %q", id))
}

// PutGrantStatus implements kubegate.Store.
func (s *Store) PutGrantStatus(ctx context.Context, id string, st kubegate.GrantStatus) error {
	if len(st.Message) > 4096 {
		cut := 4096
		for cut > 0 && !utf8.RuneStart(st.Message[cut]) {
			cut--
		}
		st.Message = st.Message[:cut] + "…"
	}
	// Only a grant that still exists gets a status: the insert selects it.
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO grant_status (grant_id, cluster, state, message, updated_at)
		SELECT id, ?, ?, ?, ? FROM grants WHERE id = ?
		ON CONFLICT (grant_id, cluster) DO UPDATE SET state = excluded.state, message = excluded.message, updated_at = excluded.updated_at`),
		st.Cluster, string(st.State), st.Message, toDB(st.UpdatedAt), id)
	return err
}

// announceGrants records a change for every grant the subject's deletion takes
// with it (ON DELETE CASCADE), so that the reconcilers remove their bindings.
func (s *Store) announceGrants(ctx context.Context, tx *sql.Tx, column, subject string) error {
	// Lock the subject first: a grant being made for it meanwhile is either in
	// (and announced here) or waits and then finds no subject.
	lock := `SELECT id FROM users WHERE id = ?`
	if column == "subject_team" {
		lock = `SELECT name FROM teams WHERE name = ?`
	}
	var found string
	if err := tx.QueryRowContext(ctx, s.q(lock+s.forUpdate()), subject).Scan(&found); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	rows, err := tx.QueryContext(ctx, s.q(`SELECT id FROM grants WHERE `+column+` = ?`), subject)
	if err != nil {
		return err
	}
	ids, err := collect(rows, func(r scanner) (string, error) { var id string; return id, r.Scan(&id) })
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := s.changed(ctx, tx, kubegate.ChangeGrant, id); err != nil {
			return err
		}
	}
	return nil
}
