package numbers

import "testing"

func TestKindOf(t *testing.T) {
	tests := []struct {
		ton  byte
		addr string
		want Kind
	}{
		{0, "", Empty},
		{5, "", Empty},
		{5, "ACME", Alphanumeric},
		{5, "12345", Alphanumeric}, // TON 5 wins over digits
		{0, "ACME", Alphanumeric},
		{1, "Bank2Go", Alphanumeric},
		{0, "My Shop", Alphanumeric},
		{0, "Caf\xc3\xa9", Alphanumeric}, // UTF-8 letter
		{0, "Info-24", Alphanumeric},
		{0, "12345", ShortCode},
		{2, "123", ShortCode},
		{0, "12345678", ShortCode},
		{0, "123456789", Number},
		{2, "015112345678", Number},
		{1, "4915112345678", Number},
		{1, "112", Number}, // international wins over length
		{0, "+112", Number},
		{0, "+4915112345678", Number},
		{0, "12", Invalid},
		{2, "1", Invalid},
		{1, "1", Number},
		{0, "+", Invalid},
		{1, "+", Invalid},
		{0, "123-456", Invalid},
		{0, "+49 151", Invalid},
		{0, "12\x00", Invalid},
		{5, "AC\nME", Invalid},
		{0, "123456789012345678901", Invalid}, // 21 digits
		{1, "12345678901234567890", Number},   // 20 digits
		{0, "++49", Invalid},
		{0, "...", Invalid},
	}
	for _, tc := range tests {
		if got := KindOf(tc.ton, []byte(tc.addr)); got != tc.want {
			t.Errorf("KindOf(%d, %q) = %v, want %v", tc.ton, tc.addr, got, tc.want)
		}
	}
	if Kind(99).String() != "kind(?)" || ShortCode.String() != "shortcode" {
		t.Error("Kind.String")
	}
}

func TestKindOfAllocs(t *testing.T) {
	addr := []byte("4915112345678")
	if n := testing.AllocsPerRun(100, func() { KindOf(1, addr) }); n != 0 {
		t.Fatalf("%v allocs", n)
	}
}

func BenchmarkKindOf(b *testing.B) {
	addr := []byte("4915112345678")
	b.ReportAllocs()
	for b.Loop() {
		KindOf(1, addr)
	}
}
