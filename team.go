package kubegate

import (
	"regexp"
	"slices"
	"time"
)

// Team is a named group of users that administrators manage. Its members act in
// every cluster with the group TeamGroup(name) as well as their own, taken from the
// current membership on every request: adding or removing a member applies to
// tokens already issued.
type Team struct {
	Name        string
	Description string
	// Members are user IDs, sorted, without repeats.
	Members   []string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// TeamGroupPrefix starts the Kubernetes group of every team's members.
const TeamGroupPrefix = "kubegate:team:"

// TeamGroup is the group a team's members are impersonated with.
func TeamGroup(team string) string { return TeamGroupPrefix + team }

// teamName is a DNS-1123 label: the name goes into a Kubernetes group name and
// the names of the bindings made for the team's grants.
var teamName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// MaxTeamMembers bounds a team: the memberships of a user travel with each of
// their requests, and a team is edited as a whole.
const MaxTeamMembers = 10_000

// maxTeamDescription bounds a team's description.
const maxTeamDescription = 1024

// ValidateTeamName says what is wrong with a team name.
func ValidateTeamName(name string) error {
	if !teamName.MatchString(name) {
		return Errorf(EInvalid, "team name %q must be 1 to 63 lower-case letters, digits or '-', starting and ending with a letter or digit", name)
	}
	return nil
}

// Validate says what is wrong with a team, naming the field; members are
// sorted and made unique.
func (t *Team) Validate() error {
	if err := ValidateTeamName(t.Name); err != nil {
		return err
	}
	if len(t.Description) > maxTeamDescription {
		return Errorf(EInvalid, "description must be at most %d bytes", maxTeamDescription)
	}
	t.Members = slices.Compact(slices.Sorted(slices.Values(t.Members))) // a copy: the caller's slice stays as it was
	if len(t.Members) > MaxTeamMembers {
		return Errorf(EInvalid, "a team has at most %d members", MaxTeamMembers)
	}
	for _, m := range t.Members {
		if m == "" || len(m) > 64 {
			return Errorf(EInvalid, "member %q is not a user ID", m)
		}
	}
	return nil
}
