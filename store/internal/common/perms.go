package common

import (
	"slices"
	"strings"

	"github.com/rampart-go/rampart/store"
)

// GroupRow is one row of a groups query: a group and one of its permissions (HasPerm false
// for a group without any).
type GroupRow struct {
	Name, Perm string
	HasPerm    bool
}

// CollectGroups builds the sorted group list of store.Permissions.Groups from rows.
func CollectGroups(rows []GroupRow) []store.Group {
	byName := map[string]*store.Group{}
	for _, r := range rows {
		g := byName[r.Name]
		if g == nil {
			g = &store.Group{Name: r.Name}
			byName[r.Name] = g
		}
		if r.HasPerm {
			g.Perms = append(g.Perms, r.Perm)
		}
	}
	out := make([]store.Group, 0, len(byName))
	for _, g := range byName {
		slices.Sort(g.Perms)
		g.Perms = slices.Compact(g.Perms)
		out = append(out, *g)
	}
	slices.SortFunc(out, func(a, b store.Group) int { return strings.Compare(a.Name, b.Name) })
	if len(out) == 0 {
		return nil
	}
	return out
}

// GrantRow is one row of a user-grants query: Kind "g" a group, "p" a direct permission,
// "e" a permission through a group.
type GrantRow struct{ Kind, Value string }

// BuildGrants sorts the rows of a user-grants query into store.Grants.
func BuildGrants(rows []GrantRow) store.Grants {
	var g store.Grants
	for _, r := range rows {
		switch r.Kind {
		case "g":
			g.Groups = append(g.Groups, r.Value)
		case "p":
			g.Perms = append(g.Perms, r.Value)
			g.Effective = append(g.Effective, r.Value)
		case "e":
			g.Effective = append(g.Effective, r.Value)
		}
	}
	slices.Sort(g.Groups)
	slices.Sort(g.Perms)
	slices.Sort(g.Effective)
	g.Effective = slices.Compact(g.Effective)
	return g
}
