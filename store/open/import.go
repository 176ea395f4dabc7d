package open

import (
	"context"
	"errors"
	"fmt"

	"github.com/rampart-go/rampart/store"
)

var _ store.AccountImporter = (*SplitStore)(nil)

// ImportAccounts forwards to the durable store, where users, backup codes and TOTP replay
// state live; sessions and counters (in Fast) are not touched by an import.
func (s *SplitStore) ImportAccounts(ctx context.Context, groups []store.Group, accounts []store.ImportedAccount, dryRun bool) (store.ImportResult, error) {
	im, ok := s.Durable.(store.AccountImporter)
	if !ok {
		return store.ImportResult{}, fmt.Errorf("store: durable backend %T cannot import accounts in one transaction: %w", s.Durable, errors.ErrUnsupported)
	}
	return im.ImportAccounts(ctx, groups, accounts, dryRun)
}
