package settings

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseSentinelURL(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want Redis
	}{
		{"redis+sentinel://127.0.0.1:26379/mymaster", Redis{Host: "127.0.0.1",
			Sentinel: &Sentinel{Addrs: []string{"127.0.0.1:26379"}, MasterName: "mymaster"}}},
		{"redis+sentinel://:pw@localhost,s2.internal:26380,[::1]/main/3?sentinel_password=sp&sentinel_username=su",
			Redis{Host: "s2.internal", Password: true, Sentinel: &Sentinel{
				Addrs: []string{"localhost:26379", "s2.internal:26380", "[::1]:26379"}, MasterName: "main", DB: 3,
				Password: "pw", SentinelUsername: "su", SentinelPassword: "sp"}}},
		{"REDISS+SENTINEL://app:p%40ss@[2001:db8::1]:26379/m/0", Redis{Host: "2001:db8::1", Password: true, TLS: true,
			Sentinel: &Sentinel{Addrs: []string{"[2001:db8::1]:26379"}, MasterName: "m", Username: "app", Password: "p@ss"}}},
		{"redis+sentinel://h?sentinel_password=x", Redis{}}, // no master name: error below
	} {
		got, err := ParseRedisURL(tc.raw)
		if tc.want.Sentinel == nil {
			if err == nil {
				t.Errorf("%s: no error, got %+v", tc.raw, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.raw, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %+v %+v\nwant %+v %+v", tc.raw, got, got.Sentinel, tc.want, tc.want.Sentinel)
		}
		d, err := ParseDatabaseURL(tc.raw)
		if err != nil || d.Driver != "redis" || d.DSN != tc.raw {
			t.Errorf("ParseDatabaseURL(%s) = %+v, %v; want the redis driver", tc.raw, d, err)
		}
	}
}

func TestParseSentinelURLErrors(t *testing.T) {
	for _, raw := range []string{
		"redis+sentinel:///m",                // no sentinel
		"redis+sentinel://h:26379",           // no master name
		"redis+sentinel://h:26379/",          // empty master name
		"redis+sentinel://h:26379/m/x",       // bad db
		"redis+sentinel://h:26379/m/-1",      // bad db
		"redis+sentinel://h:26379/m/0/extra", // path too long
		"redis+sentinel://h:0/m",             // bad port
		"redis+sentinel://h:99999/m",         // bad port
		"redis+sentinel://h:x/m",             // bad port
		"redis+sentinel://h,,i/m",            // empty address
		"redis+sentinel://h/m?master_name=x", // unknown option
		"redis+sentinel://h/m#frag",          // fragment
		"redis+sentinel://[::1/m",            // broken literal
		"redis+sentinel://u:p@[::1]:1:2/m",   // bad address
	} {
		if r, err := ParseRedisURL(raw); err == nil {
			t.Errorf("%s: no error, got %+v %+v", raw, r, r.Sentinel)
		}
	}
}

// The sentinels' password is masked wherever the URL is shown, like the servers' one.
func TestRedactSentinelPassword(t *testing.T) {
	got := RedactURL("redis+sentinel://:srvpass@h1:26379,h2:26379/m/0?sentinel_password=sntpass")
	if strings.Contains(got, "srvpass") || strings.Contains(got, "sntpass") {
		t.Errorf("RedactURL left a password: %s", got)
	}
}

func FuzzParseSentinelURL(f *testing.F) {
	f.Add("redis+sentinel://:pw@h1,h2:26380,[::1]/main/3?sentinel_password=sp")
	f.Add("rediss+sentinel://u:p@[2001:db8::1]:26379/m")
	f.Fuzz(func(t *testing.T, s string) {
		if c, err := ParseRedisURL("redis+cluster://" + s); err == nil && (c.Cluster == nil || len(c.Cluster.Addrs) == 0 || c.Host == "") {
			t.Fatalf("accepted cluster %q with %+v", s, c)
		}
		r, err := ParseRedisURL("redis+sentinel://" + s)
		if err != nil {
			return
		}
		sn := r.Sentinel
		if sn == nil || len(sn.Addrs) == 0 || sn.MasterName == "" || sn.DB < 0 || r.Host == "" {
			t.Fatalf("accepted %q with %+v %+v", s, r, sn)
		}
	})
}

func TestParseClusterURL(t *testing.T) {
	r, err := ParseRedisURL("redis+cluster://:pw@127.0.0.1:7000,db.internal,[::1]:7002/0")
	want := Redis{Host: "db.internal", Password: true, Cluster: &Cluster{
		Addrs: []string{"127.0.0.1:7000", "db.internal:6379", "[::1]:7002"}, Password: "pw"}}
	if err != nil || !reflect.DeepEqual(r, want) {
		t.Errorf("got %+v %+v, %v; want %+v %+v", r, r.Cluster, err, want, want.Cluster)
	}
	if d, err := ParseDatabaseURL("rediss+cluster://h1,h2"); err != nil || d.Driver != "redis" || !d.TLS {
		t.Errorf("ParseDatabaseURL: %+v, %v", d, err)
	}
	for _, raw := range []string{"redis+cluster://", "redis+cluster://h/1", "redis+cluster://h/0?x=1", "redis+cluster://h:0", "redis+cluster://h#f"} {
		if r, err := ParseRedisURL(raw); err == nil {
			t.Errorf("%s: no error, got %+v", raw, r)
		}
	}
}
