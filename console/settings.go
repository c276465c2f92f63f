package console

import (
	"net/http"
	"strconv"
	"time"

	"github.com/kubegate/kubegate"
	"github.com/kubegate/kubegate/httpapi"
)

type settingsPage struct {
	KeyDays, TokenDays string
	KeyRequired        bool
}

// days shows a duration in days, as the settings form takes it.
func days(d time.Duration) string { return strconv.FormatFloat(d.Hours()/24, 'f', -1, 64) }

// settings lets administrators set the credential lifetime policy (PUT
// /api/v1/cube/settings/credential-policy does the work).
func (c *Console) settings(w http.ResponseWriter, r *http.Request) {
	p := c.newPage(r, "settings")
	if !p.User.Admin {
		httpapi.WriteError(w, r, kubegate.Errorf(kubegate.EForbidden, "the settings page is for administrators"))
		return
	}
	pol := c.o.Keys.Policy()
	p.Extras = settingsPage{KeyDays: days(pol.KeyMaxLifetime), TokenDays: days(pol.TokenMaxLifetime), KeyRequired: pol.KeyExpiryRequired}
	c.render(w, r, p)
}
