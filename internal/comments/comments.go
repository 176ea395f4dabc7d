// Package comments is the content table of the reference application (internal/app): user
// HTML stored as written and only ever rendered through the sanitize package.
//
// It is not part of the store API that adopters implement or call. The backends in this module
// keep a comments table (their migrations create it, and it stays), but they expose it only
// here: each registers a finder (Register) that turns its store into a [Store], so no comment
// method appears on the exported backend types. [For] finds the table of a store.
package comments

import (
	"context"
	"sync"
	"time"
)

// Comment is a piece of user content, kept raw; it is sanitised when rendered.
type Comment struct {
	ID        int64
	UserID    string
	Username  string
	Body      string
	CreatedAt time.Time
}

// Store keeps comments.
type Store interface {
	// AddComment stores c with a new ID and returns it.
	AddComment(ctx context.Context, c Comment) (Comment, error)
	// RecentComments returns up to limit comments, newest first.
	RecentComments(ctx context.Context, limit int) ([]Comment, error)
}

// Deleter is an optional extension of Store for moderation: the reference app lets a
// comment's author, or a user with the comments.delete permission, remove it. Every backend
// in this module provides it.
type Deleter interface {
	// CommentByID returns the comment with this ID, or store.ErrNotFound.
	CommentByID(ctx context.Context, id int64) (Comment, error)
	// DeleteComment removes the comment and reports whether it existed. IDs are never reused.
	DeleteComment(ctx context.Context, id int64) (bool, error)
}

var (
	mu      sync.RWMutex
	finders []func(st any) (Store, bool)
)

// Register adds a finder: given a store (a backend's *Store, a SplitStore...), it returns the
// comments table behind it and true, or false for a store it does not know. Backends call it
// from init, as they register their URL schemes.
func Register(find func(st any) (Store, bool)) {
	mu.Lock()
	defer mu.Unlock()
	finders = append(finders, find)
}

// For returns the comments table of st: st itself when it is a Store (a wrapper in a test,
// an application's own table), else what a registered finder returns. False when none knows st.
func For(st any) (Store, bool) {
	if c, ok := st.(Store); ok {
		return c, true
	}
	// Finders run unlocked: store/open's unwraps a SplitStore by calling For again.
	mu.RLock()
	fs := finders
	mu.RUnlock()
	for _, find := range fs {
		if c, ok := find(st); ok {
			return c, true
		}
	}
	return nil, false
}
