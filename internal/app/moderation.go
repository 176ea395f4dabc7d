package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/rampart-go/rampart/accounts"
	"github.com/rampart-go/rampart/internal/comments"
	"github.com/rampart-go/rampart/session"
	"github.com/rampart-go/rampart/store"
)

// PermCommentsDelete lets a user delete anyone's comment; authors may always delete their
// own (commentAuthorRule).
const PermCommentsDelete = "comments.delete"

// KindCommentDelete is the audit kind of a deleted comment.
const KindCommentDelete = "comment.delete"

// commentAuthorRule is the object-level rule of the comments: the author may delete.
func commentAuthorRule(_ context.Context, u *store.User, perm string, obj any) (bool, error) {
	c, ok := obj.(comments.Comment)
	return ok && perm == PermCommentsDelete && c.UserID != "" && c.UserID == u.ID, nil
}

// canDelete reports whether the request's user may delete c; a store failure denies.
func (a *App) canDelete(r *http.Request, c comments.Comment) bool {
	u := accounts.User(r)
	if u == nil {
		return false
	}
	ok, err := a.perms.HasObjectPerm(r.Context(), u, PermCommentsDelete, c)
	if err != nil {
		a.log.Log(r.Context(), store.LogLevel(r.Context(), err), "app: permission check", "err", err)
	}
	return ok
}

// deleteComment removes a comment for its author or a user holding comments.delete.
func (a *App) deleteComment(w http.ResponseWriter, r *http.Request) {
	cd, ok := a.comments.(comments.Deleter)
	if !ok {
		a.st.Errors.Write(w, r, http.StatusNotImplemented)
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		a.st.Errors.Write(w, r, http.StatusNotFound)
		return
	}
	c, err := cd.CommentByID(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		a.st.Errors.Write(w, r, http.StatusNotFound)
		return
	}
	if err != nil {
		a.unavailable(w, r, err)
		return
	}
	u := accounts.User(r)
	ok, err = a.perms.HasObjectPerm(r.Context(), u, PermCommentsDelete, c)
	if err != nil {
		a.unavailable(w, r, err)
		return
	}
	if !ok {
		a.st.Errors.Write(w, r, http.StatusForbidden)
		return
	}
	if _, err := cd.DeleteComment(r.Context(), id); err != nil {
		a.unavailable(w, r, err)
		return
	}
	a.event(r, KindCommentDelete, u, "", fmt.Sprintf("comment %d by %s", c.ID, c.Username))
	session.FromRequest(r).Flash("The comment was deleted.")
	http.Redirect(w, r, "/comments", http.StatusSeeOther)
}
