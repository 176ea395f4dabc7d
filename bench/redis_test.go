package bench

import (
	"context"
	"crypto/rand"
	"net/http"
	"os"
	"testing"

	"github.com/alexedwards/scs/redisstore"
	"github.com/alexedwards/scs/v2"
	"github.com/gomodule/redigo/redis"

	rredis "github.com/rampart-go/rampart/store/redis"
)

// redisStores returns rampart's store/redis and scs on redisstore, each behind the session
// app, when RAMPART_TEST_REDIS_URL is set; each uses a random key prefix removed at cleanup
// (the server is shared).
func redisStores(tb testing.TB) (rampartH, scsH http.Handler, ok bool) {
	u := os.Getenv("RAMPART_TEST_REDIS_URL")
	if u == "" {
		return nil, nil, false
	}
	s, ok := scsRedis(tb)
	if !ok {
		return nil, nil, false
	}
	prefix := "rampart-bench:" + rand.Text() + ":"
	st, err := rredis.Open(context.Background(), u, rredis.Options{KeyPrefix: prefix})
	if err != nil {
		tb.Fatalf("RAMPART_TEST_REDIS_URL: %v", err)
	}
	tb.Cleanup(func() {
		delPrefix(u, prefix)
		st.Close()
	})
	return rampartSessions(st), s, true
}

func delPrefix(u, prefix string) {
	c, err := redis.DialURL(u)
	if err != nil {
		return
	}
	defer c.Close()
	keys, _ := redis.Strings(c.Do("KEYS", prefix+"*"))
	for _, k := range keys {
		c.Do("DEL", k)
	}
}

// scsRedis returns scs on redisstore when RAMPART_TEST_REDIS_URL is set.
func scsRedis(tb testing.TB) (http.Handler, bool) {
	u := os.Getenv("RAMPART_TEST_REDIS_URL")
	if u == "" {
		return nil, false
	}
	pool := &redis.Pool{MaxIdle: 8, Dial: func() (redis.Conn, error) { return redis.DialURL(u) }}
	prefix := "rampart-bench:" + rand.Text() + ":"
	tb.Cleanup(func() {
		c := pool.Get()
		defer c.Close()
		keys, _ := redis.Strings(c.Do("KEYS", prefix+"*"))
		for _, k := range keys {
			c.Do("DEL", k)
		}
		pool.Close()
	})
	sm := scs.New()
	sm.Store = redisstore.NewWithPrefix(pool, prefix)
	return scsSessions(sm), true
}
