package app

import (
	"net/http"
	"strings"
	"time"

	"github.com/rampart-go/rampart/accounts"
	"github.com/rampart-go/rampart/audit"
	"github.com/rampart-go/rampart/csp"
	"github.com/rampart-go/rampart/internal/comments"
	"github.com/rampart-go/rampart/sanitize"
	"github.com/rampart-go/rampart/session"
	"github.com/rampart-go/rampart/store"
)

func (a *App) home(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusOK, "home", page{Title: "Home"})
}

type commentView struct {
	ID        int64
	CanDelete bool
	Username  string
	CreatedAt time.Time
	Body      any
}

func (a *App) listComments(w http.ResponseWriter, r *http.Request) {
	list, err := a.comments.RecentComments(r.Context(), 100)
	if err != nil {
		a.unavailable(w, r, err)
		return
	}
	views := make([]commentView, len(list))
	for i, c := range list {
		// Stored raw, sanitised on the way out: a policy fix applies to old comments too.
		views[i] = commentView{ID: c.ID, CanDelete: a.canDelete(r, c), Username: c.Username, CreatedAt: c.CreatedAt, Body: sanitize.HTML(c.Body)}
	}
	a.render(w, r, http.StatusOK, "comments", page{Title: "Comments", Data: views})
}

const maxCommentLen = 10000

func (a *App) postComment(w http.ResponseWriter, r *http.Request) {
	u := accounts.User(r)
	body := strings.TrimSpace(r.PostFormValue("body"))
	if body == "" || len(body) > maxCommentLen {
		session.FromRequest(r).Flash("A comment must have between 1 and 10000 characters.")
		http.Redirect(w, r, "/comments", http.StatusSeeOther)
		return
	}
	if _, err := a.comments.AddComment(r.Context(), comments.Comment{UserID: u.ID, Username: u.Username, Body: body, CreatedAt: a.now()}); err != nil {
		a.unavailable(w, r, err)
		return
	}
	http.Redirect(w, r, "/comments", http.StatusSeeOther)
}

type lockedRow struct {
	Key      string
	Label    string
	Failures int64
	Until    time.Time
}

type adminData struct {
	Locked []lockedRow
	Events []store.Event
	// CSPReports are the counted CSP violation reports, apart from the security events.
	CSPReports []csp.ReportWindow
	// Attacks is the picture of refusals over time (attacks.go).
	Attacks attackPicture
}

func (a *App) admin(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if r.Method == http.MethodPost {
		key := r.PostFormValue("unlock")
		if key == "" {
			a.st.Errors.Write(w, r, http.StatusBadRequest)
			return
		}
		if err := a.st.Lockout.UnlockKey(ctx, key); err != nil {
			a.unavailable(w, r, err)
			return
		}
		a.event(r, audit.KindUnlock, accounts.User(r), "", key)
		session.FromRequest(r).Flash("Unlocked.")
		http.Redirect(w, r, "/admin/security", http.StatusSeeOther)
		return
	}
	locked, err := a.st.Lockout.Locked(ctx, 200)
	if err != nil {
		a.unavailable(w, r, err)
		return
	}
	events, err := a.st.Audit.Recent(ctx, 100)
	if err != nil {
		a.unavailable(w, r, err)
		return
	}
	d := adminData{Events: events}
	if d.CSPReports, err = a.st.CSPReports.Recent(ctx, 24, 20); err != nil {
		a.unavailable(w, r, err)
		return
	}
	if d.Attacks, err = a.attacks(ctx, r); err != nil {
		a.unavailable(w, r, err)
		return
	}
	for _, e := range locked {
		label := e.Username
		if e.IP != "" {
			if label != "" {
				label += " from "
			}
			label += e.IP
		}
		d.Locked = append(d.Locked, lockedRow{Key: e.Key, Label: label, Failures: e.Failures, Until: e.Until})
	}
	a.render(w, r, http.StatusOK, "admin", page{Title: "Security", Data: d})
}
