package signing_test

import (
	"fmt"

	"github.com/rampart-go/rampart/signing"
)

// A value signed under one key verifies after a rotation that keeps the old key as a
// fallback; a tampered value or another purpose (salt) does not.
func ExampleSigner() {
	old, _ := signing.New(signing.Options{Key: "old-secret-key-of-enough-length-0123456789", Salt: "unsubscribe"})
	token := old.Sign("user:42")

	rotated, _ := signing.New(signing.Options{
		Key:       "new-secret-key-of-enough-length-9876543210",
		Fallbacks: []string{"old-secret-key-of-enough-length-0123456789"},
		Salt:      "unsubscribe",
	})
	v, err := rotated.Unsign(token)
	fmt.Println(v, err)

	_, err = rotated.Unsign("user:43" + token[len("user:42"):])
	fmt.Println(err != nil)

	other, _ := signing.New(signing.Options{Key: "new-secret-key-of-enough-length-9876543210", Salt: "password-reset"})
	_, err = other.Unsign(token)
	fmt.Println(err != nil)
	// Output:
	// user:42 <nil>
	// true
	// true
}
