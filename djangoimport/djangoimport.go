// Package djangoimport moves a Django site's accounts to rampart: users with their password
// hashes (rampart's auth verifies Django's hash formats and upgrades them at the next login),
// groups and permissions, django-otp TOTP devices with their replay state, and django-otp
// static tokens as backup codes. `rampart import-django` is this package on the command line;
// an application can call it from its own code:
//
//	src, err := djangoimport.Open(ctx, "postgres://django@db/site")
//	...
//	defer src.Close()
//	rep, err := djangoimport.Import(ctx, src, stack.Store, stack.TwoFactor, djangoimport.Options{})
//	rep.WriteText(os.Stdout)
//
// Everything is read from Django's database and checked before anything is written; the
// writes then happen in one transaction of the rampart store (store.AccountImporter), so an
// error leaves the store as it was. Accounts whose username exists in rampart already are
// left untouched, which makes a second run of the same import change nothing.
//
// Django permissions ("app_label.codename", as user.has_perm takes them) keep their names:
// "polls.add_choice" in Django is "polls.add_choice" in rampart's perms package, so ported
// checks ask for the same strings. A name rampart does not accept (it allows a-z, 0-9, '_',
// '-' and '.') is lower-cased if that makes it valid, and skipped otherwise.
package djangoimport

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/rampart-go/rampart/auth"
	"github.com/rampart-go/rampart/perms"
	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/twofactor"
)

// Options tune Import. The zero value imports for real.
type Options struct {
	// DryRun reads and validates everything and runs the store's transaction, then rolls it
	// back: the report tells exactly what a real run would do, and nothing is written.
	DryRun bool
}

// Skip is one thing that was not imported, and why.
type Skip struct {
	// Item names it: a table, a device ("otp_totp_totpdevice 3 (user alice)"), a user.
	Item   string
	Reason string
}

// Report tells what Import read, wrote and left out.
type Report struct {
	DryRun bool
	// Users is how many Django users were read; Created of them were imported and Existing
	// were already in rampart (left unchanged). The rest are in Skipped.
	Users, Created, Existing int
	// Groups read from Django; GroupsCreated in rampart; GroupPermsAdded to groups.
	Groups, GroupsCreated, GroupPermsAdded int
	// UserPerms and Memberships count the direct permissions and group memberships of the
	// users created.
	UserPerms, Memberships int
	// TOTPDevices imported (one per user created); ReplayStates of them carried Django's
	// last accepted time step.
	TOTPDevices, ReplayStates int
	// BackupCodes are the static tokens imported as backup codes.
	BackupCodes int
	// Skipped lists what was left out, with the reason.
	Skipped []Skip
	// Notes are imported items that may behave differently (an e-mail dropped, a clock drift
	// rampart does not apply).
	Notes []string
	// Unprotected are the created users who had a confirmed second factor in Django that
	// could not be imported: they log in with their password alone until they enrol again.
	Unprotected []string
}

// WriteText prints the report for a person: counts first, then what was skipped and why.
func (r Report) WriteText(w io.Writer) {
	verb := "imported"
	if r.DryRun {
		verb = "would import"
		fmt.Fprintln(w, "dry run: nothing was written")
	}
	fmt.Fprintf(w, "users: %d read, %s %d, %d already present (left unchanged), %d skipped\n",
		r.Users, verb, r.Created, r.Existing, r.Users-r.Created-r.Existing)
	fmt.Fprintf(w, "groups: %d read, %d created, %d group permissions added\n", r.Groups, r.GroupsCreated, r.GroupPermsAdded)
	fmt.Fprintf(w, "user permissions: %d, group memberships: %d\n", r.UserPerms, r.Memberships)
	fmt.Fprintf(w, "TOTP devices: %d (%d with replay state), backup codes from static tokens: %d\n", r.TOTPDevices, r.ReplayStates, r.BackupCodes)
	if len(r.Skipped) > 0 {
		fmt.Fprintf(w, "skipped: %d\n", len(r.Skipped))
		for _, s := range r.Skipped {
			fmt.Fprintf(w, "  %s: %s\n", s.Item, s.Reason)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	if len(r.Unprotected) > 0 {
		fmt.Fprintf(w, "WARNING: %d users had a second factor in Django that was not imported; they log in with a password alone until they enrol again: %s\n",
			len(r.Unprotected), strings.Join(r.Unprotected, ", "))
	}
}

// Import reads the accounts of src and writes them to dst in one transaction (see the
// package documentation). tf seals the TOTP secrets and hashes the static tokens under the
// server's keys; it must be built with the keys the server uses (rampart.Stack.TwoFactor).
// dst must implement store.AccountImporter (SQLite, PostgreSQL, or store/open's SplitStore).
func Import(ctx context.Context, src *Source, dst store.Store, tf *twofactor.Manager, opts Options) (Report, error) {
	rep := Report{DryRun: opts.DryRun}
	im, ok := dst.(store.AccountImporter)
	if !ok {
		return rep, fmt.Errorf("djangoimport: the store %T cannot import in one transaction (use SQLite or PostgreSQL)", dst)
	}
	if tf == nil {
		return rep, errors.New("djangoimport: a twofactor.Manager is required")
	}
	d, err := read(ctx, src, &rep)
	if err != nil {
		return rep, err
	}
	groups, accounts, plan := convert(d, tf, &rep)
	res, err := im.ImportAccounts(ctx, groups, accounts, opts.DryRun)
	if err != nil {
		return rep, fmt.Errorf("djangoimport: writing to the store (nothing was written): %w", err)
	}
	rep.GroupsCreated, rep.GroupPermsAdded = res.GroupsCreated, res.GroupPermsAdded
	rep.Created, rep.Existing = len(res.Created), len(res.Existing)
	for _, name := range res.Created {
		p := plan[name]
		rep.UserPerms += len(p.Perms)
		rep.Memberships += len(p.Groups)
		if p.User.TOTPEnabled {
			rep.TOTPDevices++
			if p.LastStep >= 0 {
				rep.ReplayStates++
			}
		}
		rep.BackupCodes += len(p.BackupCodeHashes)
		if p.lost {
			rep.Unprotected = append(rep.Unprotected, name)
		}
	}
	for _, name := range res.EmailDropped {
		rep.Notes = append(rep.Notes, fmt.Sprintf("user %s: imported without e-mail, another rampart user has %s", name, plan[name].User.Email))
	}
	if len(res.Existing) > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d users already in rampart were left unchanged (their groups, permissions and devices too): %s",
			len(res.Existing), strings.Join(res.Existing, ", ")))
	}
	return rep, nil
}

// planned is an account to import, with what the report needs to know about it.
type planned struct {
	store.ImportedAccount
	// lost is set when the user had a confirmed Django device none of which was imported.
	lost bool
}

// convert turns Django's rows into rampart's accounts, validating every name and device;
// what cannot be carried over goes to rep.Skipped.
func convert(d *djangoData, tf *twofactor.Manager, rep *Report) ([]store.Group, []store.ImportedAccount, map[string]*planned) {
	// Permissions by ID, under rampart's names.
	permName := map[int64]string{}
	for _, p := range d.perms {
		name, err := mapPerm(p.app, p.codename)
		if err != nil {
			rep.Skipped = append(rep.Skipped, Skip{"permission " + p.app + "." + p.codename, err.Error()})
			continue
		}
		permName[p.id] = name
	}
	groupName := map[int64]string{}
	var groups []store.Group
	for _, g := range d.groups {
		if err := perms.ValidGroup(g.name); err != nil {
			rep.Skipped = append(rep.Skipped, Skip{fmt.Sprintf("group %q", g.name), err.Error() + " (its memberships are skipped too)"})
			continue
		}
		groupName[g.id] = g.name
		var ps []string
		for _, pid := range d.groupPerms[g.id] {
			if n, ok := permName[pid]; ok {
				ps = append(ps, n)
			}
		}
		slices.Sort(ps)
		groups = append(groups, store.Group{Name: g.name, Perms: slices.Compact(ps)})
	}

	plan := map[string]*planned{} // by normalised username
	byID := map[int64]*planned{}
	var order []*planned
	seenUser := map[string]string{} // folded username -> Django username
	seenEmail := map[string]string{}
	for _, u := range d.users {
		item := fmt.Sprintf("user %q", u.username)
		name, err := auth.NormalizeUsername(u.username)
		if err != nil {
			rep.Skipped = append(rep.Skipped, Skip{item, "username not accepted by rampart: " + err.Error()})
			continue
		}
		key := strings.ToLower(name)
		if other, dup := seenUser[key]; dup {
			rep.Skipped = append(rep.Skipped, Skip{item, fmt.Sprintf("same username as %q once compared case-insensitively, as rampart compares them", other)})
			continue
		}
		seenUser[key] = u.username
		email, err := auth.NormalizeEmail(u.email)
		if err != nil {
			rep.Notes = append(rep.Notes, fmt.Sprintf("user %s: e-mail %q not accepted by rampart (%v), imported without it", name, u.email, err))
			email = ""
		}
		if ek := strings.ToLower(email); email != "" {
			if other, dup := seenEmail[ek]; dup {
				rep.Notes = append(rep.Notes, fmt.Sprintf("user %s: e-mail %s is also %s's in Django; rampart keeps e-mails unique, imported without it", name, email, other))
				email = ""
			} else {
				seenEmail[ek] = name
			}
		}
		p := &planned{ImportedAccount: store.ImportedAccount{
			User: store.User{Username: name, Email: email, PasswordHash: u.password, IsActive: u.active,
				IsStaff: u.staff, IsSuperuser: u.superuser, DateJoined: u.joined, LastLogin: u.lastLogin},
			LastStep: -1,
		}}
		for _, gid := range d.userGroups[u.id] {
			if g, ok := groupName[gid]; ok {
				p.Groups = append(p.Groups, g)
			}
		}
		for _, pid := range d.userPerms[u.id] {
			if n, ok := permName[pid]; ok {
				p.Perms = append(p.Perms, n)
			}
		}
		slices.Sort(p.Groups)
		p.Groups = slices.Compact(p.Groups)
		slices.Sort(p.Perms)
		p.Perms = slices.Compact(p.Perms)
		plan[name] = p
		byID[u.id] = p
		order = append(order, p)
	}

	// TOTP devices, lowest ID first: the first importable confirmed device of a user wins.
	hadDevice := map[*planned]bool{}
	for _, dv := range d.totp {
		item := fmt.Sprintf("otp_totp_totpdevice %d (%q)", dv.id, dv.name)
		p := byID[dv.userID]
		if p == nil {
			rep.Skipped = append(rep.Skipped, Skip{item, "its user was not imported"})
			continue
		}
		item = fmt.Sprintf("otp_totp_totpdevice %d (user %s)", dv.id, p.User.Username)
		if !dv.confirmed {
			rep.Skipped = append(rep.Skipped, Skip{item, "not confirmed (enrollment was never finished)"})
			continue
		}
		hadDevice[p] = true
		if reason := totpProblem(dv); reason != "" {
			rep.Skipped = append(rep.Skipped, Skip{item, reason})
			continue
		}
		if p.User.TOTPEnabled {
			rep.Skipped = append(rep.Skipped, Skip{item, "the user has another TOTP device imported; rampart keeps one per user"})
			continue
		}
		key, _ := hex.DecodeString(dv.key) // checked by totpProblem
		sealed, err := tf.SealSecret(key)
		if err != nil {
			rep.Skipped = append(rep.Skipped, Skip{item, "sealing the key: " + err.Error()})
			continue
		}
		p.User.TOTPSecret, p.User.TOTPEnabled = sealed, true
		if dv.lastT >= 0 {
			p.LastStep = dv.lastT
		}
		if dv.drift > 1 || dv.drift < -1 {
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s: django-otp recorded a clock drift of %d steps; rampart accepts codes one step either side of now, so this device may need its clock fixed", item, dv.drift))
		}
	}

	// Static tokens become backup codes of users whose TOTP device was imported: rampart asks
	// for a second factor only from users with TOTP on.
	for _, dv := range d.static {
		p := byID[dv.userID]
		item := fmt.Sprintf("otp_static_staticdevice %d", dv.id)
		switch {
		case p == nil:
			rep.Skipped = append(rep.Skipped, Skip{item, "its user was not imported"})
			continue
		case !dv.confirmed:
			rep.Skipped = append(rep.Skipped, Skip{item + " (user " + p.User.Username + ")", "not confirmed"})
			continue
		}
		hadDevice[p] = true
		item += " (user " + p.User.Username + ")"
		if !p.User.TOTPEnabled {
			rep.Skipped = append(rep.Skipped, Skip{item, fmt.Sprintf("%d static tokens: the user has no TOTP device rampart could import, and rampart's backup codes stand in for a TOTP code only", len(dv.tokens))})
			continue
		}
		for i, tok := range dv.tokens {
			h := tf.HashBackupCode(tok)
			if h == "" {
				rep.Skipped = append(rep.Skipped, Skip{fmt.Sprintf("%s token %d", item, i+1), "empty or longer than 64 characters"})
				continue
			}
			p.BackupCodeHashes = append(p.BackupCodeHashes, h)
		}
		slices.Sort(p.BackupCodeHashes)
		p.BackupCodeHashes = slices.Compact(p.BackupCodeHashes)
	}
	for _, u := range d.otherDevices {
		if p := byID[u]; p != nil {
			hadDevice[p] = true
		}
	}
	for p := range hadDevice {
		p.lost = !p.User.TOTPEnabled
	}
	accounts := make([]store.ImportedAccount, len(order))
	for i, p := range order {
		accounts[i] = p.ImportedAccount
	}
	return groups, accounts, plan
}

// totpProblem says why rampart cannot verify a device's codes, or returns "". rampart's TOTP
// is RFC 6238's default (6 digits, 30 s steps from the Unix epoch, HMAC-SHA-1), which is
// django-otp's default too.
func totpProblem(dv totpDevice) string {
	key, err := hex.DecodeString(dv.key)
	switch {
	case err != nil || len(key) == 0:
		return "the key is not hexadecimal"
	case dv.digits != 6:
		return fmt.Sprintf("%d-digit codes; rampart checks 6-digit codes", dv.digits)
	case dv.step != 30:
		return fmt.Sprintf("a %d s time step; rampart uses 30 s", dv.step)
	case dv.t0 != 0:
		return fmt.Sprintf("steps counted from t0=%d; rampart counts from the Unix epoch (t0=0)", dv.t0)
	}
	return ""
}

// mapPerm names Django's permission app_label.codename in rampart: the same string when
// rampart accepts it, else lower-cased when that is accepted.
func mapPerm(app, codename string) (string, error) {
	name := app + "." + codename
	err := perms.ValidPerm(name)
	if err == nil {
		return name, nil
	}
	if perms.ValidPerm(strings.ToLower(name)) == nil {
		return strings.ToLower(name), nil
	}
	return "", err
}
