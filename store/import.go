package store

import "context"

// ImportedAccount is one account handed to AccountImporter.ImportAccounts: a user with what
// they hold and their second-factor state, taken from another system (such as a Django site).
type ImportedAccount struct {
	// User is stored as given (ID and PermsVersion are assigned by the backend). The username
	// and e-mail must already be normalised as the login page normalises them.
	User User
	// Groups are the names of groups the user joins; each must be among the groups imported
	// in the same call or already exist.
	Groups []string
	// Perms are permissions granted to the user directly.
	Perms []string
	// BackupCodeHashes are the user's backup codes, hashed as the twofactor package hashes
	// them (see twofactor.Manager.HashBackupCode).
	BackupCodeHashes []string
	// LastStep is the last TOTP time step the other system accepted (replay state): a code
	// for it or an earlier step is refused after the import. Negative when there is none.
	LastStep int64
}

// ImportResult tells what ImportAccounts did (or, for a dry run, would have done).
type ImportResult struct {
	// Created are the usernames of the accounts created, in the order given.
	Created []string
	// Existing are the usernames of accounts left untouched because a user with that
	// (case-insensitively equal) username was already there.
	Existing []string
	// EmailDropped are the usernames of accounts created without their e-mail address
	// because another user of the store already has it.
	EmailDropped []string
	// GroupsCreated and GroupPermsAdded count the groups created and the permissions added
	// to groups (new or existing); permissions already held are not counted.
	GroupsCreated, GroupPermsAdded int
}

// AccountImporter is an optional extension of Store for bulk imports of accounts from
// another system (`rampart import-django`). ImportAccounts writes, in one transaction: the
// groups with their permissions (created when missing; permissions added, never removed),
// then each account whose username is not taken yet, with its group memberships, direct
// permissions, backup codes and TOTP replay state. Accounts whose username exists are left
// as they are, so running the same import twice changes nothing the second time. On any
// error nothing at all is written. With dryRun the same work is done and then rolled back,
// so the result reports exactly what a real run would do.
//
// The SQLite and PostgreSQL backends (and store/open's SplitStore, for its durable store)
// implement it; Redis and the memory store do not, as they have no transaction spanning
// these writes. A wrapper that implements it for a backend that does not (a SplitStore over
// the memory store) fails with an error wrapping errors.ErrUnsupported.
type AccountImporter interface {
	ImportAccounts(ctx context.Context, groups []Group, accounts []ImportedAccount, dryRun bool) (ImportResult, error)
}
