package bench

import (
	"crypto/rand"
	"net/http"
	"os"
	"testing"

	"github.com/alexedwards/scs/redisstore"
	"github.com/alexedwards/scs/v2"
	"github.com/gomodule/redigo/redis"
)

// scsRedis returns scs on redisstore when RAMPART_TEST_REDIS_URL is set, under a random key
// prefix removed at cleanup (the server is shared). rampart has no Redis session store in
// this tree yet, so there is no rampart row to put beside it.
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
