// Package accountbench measures the account layer of the reference app end to end, through
// the real HTTP handler of the default stack (no network): how many login attempts against a
// locked account are refused per second, how much memory 200 concurrent logins take beside
// the bound the password hasher promises, and whether the failure paths of a login (unknown
// user, wrong password, inactive account, unusable password) cost the same time.
//
// It has no API; everything is in its tests and benchmarks. Results and commands are in
// docs/ACCOUNTS-BENCH.md.
package accountbench
