// Package all links every store backend, so that store/open (and rampart.New, which opens the
// stores the settings name) accepts every database and Redis URL: SQLite, PostgreSQL and
// Redis. The rampart command imports it; an application configured by URL that must accept
// any backend does too:
//
//	import _ "github.com/rampart-go/rampart/store/all"
//
// An application that knows its backend imports only that one (store/sqlite, store/postgres
// or store/redis) and links nothing else: the SQLite driver alone is several megabytes.
package all

import (
	_ "github.com/rampart-go/rampart/store/postgres" // postgres:// and postgresql:// URLs
	_ "github.com/rampart-go/rampart/store/redis"    // redis://, rediss:// and redis+sentinel:// URLs
	_ "github.com/rampart-go/rampart/store/sqlite"   // sqlite:, file: and file paths
)
