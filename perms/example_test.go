package perms_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/rampart-go/rampart"
	"github.com/rampart-go/rampart/perms"
	"github.com/rampart-go/rampart/settings"
	"github.com/rampart-go/rampart/store"
	"github.com/rampart-go/rampart/store/memory"
)

// Comment is an application's own object.
type Comment struct{ AuthorID string }

// "Editors may delete any comment, authors their own": a group holding comments.delete, and
// one rule for the object-level case.
func Example() {
	env := map[string]string{"RAMPART_SECRET_KEY": testKey, "RAMPART_INSECURE_DEV": "1", "RAMPART_ALLOWED_HOSTS": "127.0.0.1"}
	s, err := settings.LoadFrom(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, "")
	if err != nil {
		panic(err)
	}
	stack, err := rampart.New(context.Background(), s, rampart.Options{Store: memory.New(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		panic(err)
	}
	defer stack.Close()
	authorMayDelete := func(_ context.Context, u *store.User, perm string, obj any) (bool, error) {
		c, ok := obj.(Comment)
		return ok && perm == "comments.delete" && c.AuthorID == u.ID, nil
	}
	ck, err := perms.New(stack, perms.Options{Rules: []perms.Rule{authorMayDelete}})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	by := perms.Actor{Name: "setup"} // recorded in the audit trail
	ann, _ := stack.Store.CreateUser(ctx, store.User{Username: "ann", IsActive: true})
	eve, _ := stack.Store.CreateUser(ctx, store.User{Username: "eve", IsActive: true})
	_ = ck.CreateGroup(ctx, by, "editors")
	_ = ck.GrantGroup(ctx, by, "editors", "comments.delete")
	_ = ck.AddToGroup(ctx, by, eve, "editors")
	eve, _ = stack.Store.UserByID(ctx, eve.ID) // as the request's user would be loaded

	annsComment, othersComment := Comment{AuthorID: ann.ID}, Comment{AuthorID: "someone else"}
	for _, c := range []struct {
		who *store.User
		obj Comment
	}{{&ann, annsComment}, {&ann, othersComment}, {&eve, othersComment}} {
		ok, _ := ck.HasObjectPerm(ctx, c.who, "comments.delete", c.obj)
		fmt.Println(c.who.Username, ok)
	}
	// Output:
	// ann true
	// ann false
	// eve true
}
