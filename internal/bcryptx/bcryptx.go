// Package bcryptx is the one check of a configured bcrypt hash, shared by
// peer passwords (proxy) and console users (admin): the same prefixes,
// length and cost bounds everywhere.
package bcryptx

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// MaxCost is the highest cost accepted: 14 is about a second a check;
// beyond it every login or bind would be a denial of service of its own.
const MaxCost = 14

// Errors of Check.
var (
	ErrNotBcrypt = errors.New("not a bcrypt hash ($2a$, $2b$ or $2y$, 60 characters)")
	ErrCost      = fmt.Errorf("bcrypt cost outside [%d, %d]", bcrypt.MinCost, MaxCost)
)

// Check validates a configured hash and returns its cost.
func Check(h string) (int, error) {
	if len(h) != 60 || !(strings.HasPrefix(h, "$2a$") || strings.HasPrefix(h, "$2b$") || strings.HasPrefix(h, "$2y$")) {
		return 0, ErrNotBcrypt
	}
	cost, err := bcrypt.Cost([]byte(h))
	var ce bcrypt.InvalidCostError
	if errors.As(err, &ce) {
		return int(ce), ErrCost
	}
	if err != nil {
		return 0, ErrNotBcrypt
	}
	if cost < bcrypt.MinCost || cost > MaxCost {
		return cost, ErrCost
	}
	return cost, nil
}
