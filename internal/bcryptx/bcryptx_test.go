package bcryptx

import (
	"errors"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestCheck(t *testing.T) {
	h4, _ := bcrypt.GenerateFromPassword([]byte("pw"), 4)
	for _, tc := range []struct {
		h    string
		cost int
		err  error
	}{
		{string(h4), 4, nil},
		{"$2a$31$" + string(h4[7:]), 31, ErrCost}, // cost 31 was accepted for console users once
		{"$2a$03$" + string(h4[7:]), 3, ErrCost},
		{"$1$abc", 0, ErrNotBcrypt},
		{string(h4[:59]), 0, ErrNotBcrypt},
	} {
		cost, err := Check(tc.h)
		if !errors.Is(err, tc.err) || (tc.cost != 0 && cost != tc.cost) {
			t.Errorf("%q: cost %d err %v, want %d %v", tc.h, cost, err, tc.cost, tc.err)
		}
	}
}
