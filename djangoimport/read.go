package djangoimport

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// djangoData is what read found in Django's tables.
type djangoData struct {
	users      []djangoUser
	groups     []djangoGroup
	perms      []djangoPerm
	groupPerms map[int64][]int64 // group ID -> permission IDs
	userGroups map[int64][]int64 // user ID -> group IDs
	userPerms  map[int64][]int64 // user ID -> permission IDs
	totp       []totpDevice
	static     []staticDevice
	// otherDevices are the user IDs of confirmed devices of kinds rampart has no equivalent
	// for (already listed in the report's Skipped).
	otherDevices []int64
}

type djangoUser struct {
	id                        int64
	username, email, password string
	active, staff, superuser  bool
	joined, lastLogin         time.Time
}

type djangoGroup struct {
	id   int64
	name string
}

type djangoPerm struct {
	id            int64
	app, codename string
}

type totpDevice struct {
	id, userID              int64
	name, key               string
	confirmed               bool
	step, t0, digits, drift int64
	lastT                   int64
}

type staticDevice struct {
	id, userID int64
	confirmed  bool
	tokens     []string
}

// The tables read. auth_user is required; the others are read when present (a project
// without django_otp has no device tables, which is reported, not an error).
const (
	tUser        = "auth_user"
	tGroup       = "auth_group"
	tPerm        = "auth_permission"
	tContentType = "django_content_type"
	tGroupPerms  = "auth_group_permissions"
	tUserGroups  = "auth_user_groups"
	tUserPerms   = "auth_user_user_permissions"
	tTOTP        = "otp_totp_totpdevice"
	tStatic      = "otp_static_staticdevice"
	tStaticToken = "otp_static_statictoken"
)

// otherDeviceTables are device tables of django-otp plugins and of django-two-factor-auth
// that rampart has no equivalent for, with the reason shown in the report. Any other table
// whose name ends in "device" is reported as well, with a generic reason.
var otherDeviceTables = map[string]string{
	"otp_hotp_hotpdevice":             "HOTP (counter-based) devices: rampart verifies time-based codes only",
	"otp_email_emaildevice":           "e-mail devices: rampart sends no codes by e-mail",
	"two_factor_phonedevice":          "SMS and phone-call devices (django-two-factor-auth): rampart sends no codes by phone",
	"otp_twilio_twiliosmsdevice":      "SMS devices (Twilio): rampart sends no codes by phone",
	"otp_yubikey_remoteyubikeydevice": "YubiKey OTP devices: not supported (passkeys are rampart's hardware-key login)",
	"otp_yubikey_yubikeydevice":       "YubiKey OTP devices: not supported (passkeys are rampart's hardware-key login)",
	"otp_webauthn_webauthncredential": "WebAuthn credentials are bound to the Django site's relying-party ID; users register passkeys again",
}

func read(ctx context.Context, src *Source, rep *Report) (*djangoData, error) {
	tables, err := src.tables(ctx)
	if err != nil {
		return nil, err
	}
	if !tables[tUser] {
		return nil, errors.New("djangoimport: no auth_user table: not a Django database, or one with a custom AUTH_USER_MODEL (not supported)")
	}
	d := &djangoData{groupPerms: map[int64][]int64{}, userGroups: map[int64][]int64{}, userPerms: map[int64][]int64{}}
	absent := func(table, consequence string) {
		rep.Skipped = append(rep.Skipped, Skip{"table " + table, "absent: " + consequence})
	}

	rows, err := src.query(ctx, `SELECT id, username, email, password, is_active, is_staff, is_superuser, date_joined, last_login
		FROM auth_user ORDER BY id`)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		var u djangoUser
		var errs []error
		u.id, err = num(r[0])
		errs = append(errs, err)
		u.username, u.email, u.password = str(r[1]), str(r[2]), str(r[3])
		u.active, err = boolean(r[4])
		errs = append(errs, err)
		u.staff, err = boolean(r[5])
		errs = append(errs, err)
		u.superuser, err = boolean(r[6])
		errs = append(errs, err)
		u.joined, err = timestamp(r[7])
		errs = append(errs, err)
		u.lastLogin, err = timestamp(r[8])
		errs = append(errs, err)
		if err := errors.Join(errs...); err != nil {
			return nil, fmt.Errorf("djangoimport: auth_user %v: %w", r[0], err)
		}
		d.users = append(d.users, u)
	}
	rep.Users = len(d.users)

	if tables[tPerm] && tables[tContentType] {
		rows, err := src.query(ctx, `SELECT p.id, c.app_label, p.codename FROM auth_permission p
			JOIN django_content_type c ON c.id = p.content_type_id ORDER BY p.id`)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			id, err := num(r[0])
			if err != nil {
				return nil, fmt.Errorf("djangoimport: auth_permission: %w", err)
			}
			d.perms = append(d.perms, djangoPerm{id: id, app: str(r[1]), codename: str(r[2])})
		}
	} else {
		absent(tPerm+" or "+tContentType, "no permissions imported")
	}
	if tables[tGroup] {
		rows, err := src.query(ctx, `SELECT id, name FROM auth_group ORDER BY id`)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			id, err := num(r[0])
			if err != nil {
				return nil, fmt.Errorf("djangoimport: auth_group: %w", err)
			}
			d.groups = append(d.groups, djangoGroup{id: id, name: str(r[1])})
		}
		rep.Groups = len(d.groups)
	} else {
		absent(tGroup, "no groups imported")
	}
	links := []struct {
		table, a, b string
		into        map[int64][]int64
	}{
		{tGroupPerms, "group_id", "permission_id", d.groupPerms},
		{tUserGroups, "user_id", "group_id", d.userGroups},
		{tUserPerms, "user_id", "permission_id", d.userPerms},
	}
	for _, l := range links {
		if !tables[l.table] {
			absent(l.table, "none of these links imported")
			continue
		}
		rows, err := src.query(ctx, `SELECT `+l.a+`, `+l.b+` FROM `+l.table+` ORDER BY id`)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			a, err1 := num(r[0])
			b, err2 := num(r[1])
			if err := errors.Join(err1, err2); err != nil {
				return nil, fmt.Errorf("djangoimport: %s: %w", l.table, err)
			}
			l.into[a] = append(l.into[a], b)
		}
	}

	if tables[tTOTP] {
		rows, err := src.query(ctx, `SELECT id, user_id, name, confirmed, key, step, t0, digits, drift, last_t
			FROM otp_totp_totpdevice ORDER BY id`)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			var dv totpDevice
			var errs [9]error
			dv.id, errs[0] = num(r[0])
			dv.userID, errs[1] = num(r[1])
			dv.name = str(r[2])
			dv.confirmed, errs[2] = boolean(r[3])
			dv.key = strings.TrimSpace(str(r[4]))
			dv.step, errs[3] = num(r[5])
			dv.t0, errs[4] = num(r[6])
			dv.digits, errs[5] = num(r[7])
			dv.drift, errs[6] = num(r[8])
			dv.lastT, errs[7] = num(r[9])
			if err := errors.Join(errs[:]...); err != nil {
				return nil, fmt.Errorf("djangoimport: otp_totp_totpdevice %v: %w", r[0], err)
			}
			d.totp = append(d.totp, dv)
		}
	} else {
		absent(tTOTP, "django_otp.plugins.otp_totp is not installed; no TOTP devices imported")
	}

	if tables[tStatic] && tables[tStaticToken] {
		rows, err := src.query(ctx, `SELECT id, user_id, confirmed FROM otp_static_staticdevice ORDER BY id`)
		if err != nil {
			return nil, err
		}
		byID := map[int64]int{}
		for _, r := range rows {
			var dv staticDevice
			var errs [3]error
			dv.id, errs[0] = num(r[0])
			dv.userID, errs[1] = num(r[1])
			dv.confirmed, errs[2] = boolean(r[2])
			if err := errors.Join(errs[:]...); err != nil {
				return nil, fmt.Errorf("djangoimport: otp_static_staticdevice %v: %w", r[0], err)
			}
			byID[dv.id] = len(d.static)
			d.static = append(d.static, dv)
		}
		rows, err = src.query(ctx, `SELECT device_id, token FROM otp_static_statictoken ORDER BY id`)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			dev, err := num(r[0])
			if err != nil {
				return nil, fmt.Errorf("djangoimport: otp_static_statictoken: %w", err)
			}
			if i, ok := byID[dev]; ok {
				d.static[i].tokens = append(d.static[i].tokens, str(r[1]))
			}
		}
	} else {
		absent(tStatic, "django_otp.plugins.otp_static is not installed; no static tokens imported")
	}

	// Device tables of other kinds: counted and reported, never imported.
	var others []string
	for t := range tables {
		if t == tTOTP || t == tStatic {
			continue
		}
		if _, known := otherDeviceTables[t]; known || strings.HasSuffix(t, "device") {
			others = append(others, t)
		}
	}
	slices.Sort(others)
	for _, t := range others {
		reason, known := otherDeviceTables[t]
		if !known {
			reason = "a kind of device rampart has no equivalent for"
		}
		rows, err := src.query(ctx, `SELECT count(*) FROM `+quote(t))
		if err != nil {
			return nil, err
		}
		n, err := num(rows[0][0])
		if err != nil || n == 0 {
			continue
		}
		rep.Skipped = append(rep.Skipped, Skip{fmt.Sprintf("table %s (%d rows)", t, n), reason})
		ids, err := src.confirmedUsers(ctx, t)
		if err == nil {
			d.otherDevices = append(d.otherDevices, ids...)
		}
	}
	return d, nil
}

// confirmedUsers returns the user IDs of the confirmed devices of a django-otp device table
// (they have user_id and confirmed columns); an error when the table has another shape.
func (s *Source) confirmedUsers(ctx context.Context, table string) ([]int64, error) {
	rows, err := s.query(ctx, `SELECT user_id FROM `+quote(table)+` WHERE confirmed`)
	if err != nil {
		return nil, err
	}
	var out []int64
	for _, r := range rows {
		if id, err := num(r[0]); err == nil {
			out = append(out, id)
		}
	}
	return out, nil
}
